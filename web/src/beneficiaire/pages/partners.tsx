/* partners.tsx - P2: the directory of partners (public information only),
 * by category, searched by name or town. */
import { useState } from 'preact/hooks';
import { call } from '../../shared/api';
import { LoadError, Loading, Page, SelectField, TextField } from '../../shared/ui';
import { useLoad } from '../data';
import { categoryLabel, T } from '../strings.fr';

function fold(text: string): string {
  return text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

export function PartnersPage() {
  const data = useLoad(() => call('get', '/api/v1/directory/partners'), []);
  const [search, setSearch] = useState('');
  const [category, setCategory] = useState('');
  const all = data.value?.partners ?? [];
  const categories = [...new Set(all.map((p) => p.category))].sort();
  const wanted = fold(search.trim());
  const shown = all.filter((p) => (!category || p.category === category) && (!wanted || fold(`${p.public_name} ${p.address}`).includes(wanted)));
  return (
    <Page title={T.partners.title} lead={T.partners.lead}>
      {data.error && <LoadError error={data.error} retry={data.reload} />}
      {!data.value && !data.error && <Loading />}
      {data.value && (
        <>
          <div class="filters-grid">
            <TextField name="search" type="search" label={T.partners.search} value={search} onValue={setSearch} />
            <SelectField name="category" label={T.partners.category} value={category} onValue={setCategory}
              options={[['', T.partners.all], ...categories.map((c): [string, string] => [c, categoryLabel(c)])]} />
          </div>
          <p role="status">{shown.length ? T.partners.count(shown.length) : T.partners.none}</p>
          <ul class="cards">
            {shown.slice(0, 100).map((p) => (
              <li class="card" key={p.partner_code}>
                <div class="partner-head">
                  {p.logo_url && <img class="partner-logo" src={p.logo_url} alt={T.logo(p.public_name)} width={48} height={48} loading="lazy" />}
                  <h2 class="partner-name">{p.public_name}</h2>
                </div>
                <p class="muted">{categoryLabel(p.category)}</p>
                {p.description && <p class="description">{p.description}</p>}
                {p.address && <p>{p.address}</p>}
                {p.website && <p><a href={p.website} rel="noopener noreferrer">{T.partners.website}<span class="visually-hidden"> {p.public_name}</span></a></p>}
                <p>
                  <a href={`/payer/${p.partner_code}`}>
                    {T.partners.pay}
                    <span class="visually-hidden"> : {p.public_name}</span>
                  </a>
                </p>
              </li>
            ))}
          </ul>
        </>
      )}
    </Page>
  );
}
