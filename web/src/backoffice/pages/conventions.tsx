/* conventions.tsx - the conventions: every version published (in force or
 * not yet, mandatory or not), publishing a new one, and for one version the
 * partners who accepted it (when, by whom) and those who have not. */
import { useState } from 'preact/hooks';
import { call } from '../../shared/api';
import { announce } from '../../shared/announce';
import { formatDate, formatDateTime, formatDay, parseDay } from '../../shared/format';
import { useLoad } from '../../shared/load';
import { ErrorSummary, LoadError, Loading, Notice, Page, Radios, TextArea, TextField, useForm, type FieldError } from '../../shared/ui';
import { BASE, type Convention } from '../data';
import { T } from '../strings.fr';
import { Badge } from './common';

const C = T.conventions;
const LIST = `${BASE}/conventions`;
const TEXT_BYTES_MAX = 15 * 1024;

function PublishForm(props: { onPublished: () => void }) {
  const { values, setValues, setLocal, submission, general, summary, errorOf, set } = useForm(
    { title: '', version: '', effective_date: '', mandatory: 'yes', text: '' }, ['title', 'version', 'effective_date', 'text'],
    { 'invalid_value:version': C.versionInvalid, invalid_date: C.dateInvalid });
  const [published, setPublished] = useState<string | null>(null);

  async function submit(event: Event) {
    event.preventDefault();
    const problems: FieldError[] = [];
    if (!values.title.trim()) problems.push({ field: 'title', text: C.titleMissing });
    if (!/^[A-Za-z0-9._-]{1,32}$/.test(values.version.trim())) problems.push({ field: 'version', text: C.versionInvalid });
    const day = parseDay(values.effective_date);
    if (!day) problems.push({ field: 'effective_date', text: C.dateInvalid });
    if (!values.text.trim()) problems.push({ field: 'text', text: C.textMissing });
    else if (new TextEncoder().encode(values.text).length > TEXT_BYTES_MAX) problems.push({ field: 'text', text: C.textTooLong });
    setLocal(problems);
    if (problems.length || !day) return;
    const done = await submission.run((key) =>
      call('post', '/api/v1/conventions', {
        key,
        body: { title: values.title.trim(), version: values.version.trim(), effective_date: day, mandatory: values.mandatory === 'yes', text: values.text },
      }),
    );
    if (done) {
      const said = C.publishedText(done.title, done.version);
      setPublished(said);
      announce(said);
      setValues({ title: '', version: '', effective_date: '', mandatory: 'yes', text: '' });
      props.onPublished();
    }
  }

  return (
    <section class="section" aria-labelledby="publish-title">
      <h2 id="publish-title">{C.publishTitle}</h2>
      <p>{C.publishLead}</p>
      {published && <Notice kind="success" role="status">{published}</Notice>}
      <ErrorSummary errors={summary} general={general} />
      <form class="form" onSubmit={submit} noValidate>
        <TextField name="title" label={C.titleLabel} value={values.title} onValue={set('title')} error={errorOf('title')} maxLength={200} autoComplete="off" />
        <TextField name="version" label={C.version} hint={C.versionHint} value={values.version} onValue={set('version')} error={errorOf('version')} class="input-short" autoComplete="off" spellcheck={false} />
        <TextField name="effective_date" label={C.effective} hint={C.effectiveHint} value={values.effective_date} onValue={set('effective_date')} error={errorOf('effective_date')} class="input-short" inputMode="numeric" autoComplete="off" />
        <Radios name="mandatory" legend={C.mandatory} value={values.mandatory} onValue={set('mandatory')}
          options={[['yes', C.mandatoryYes, C.mandatoryYesHint], ['no', C.mandatoryNo, C.mandatoryNoHint]]} />
        <TextArea name="text" label={C.text} hint={C.textHint} value={values.text} onValue={set('text')} error={errorOf('text')} rows={10} />
        <div class="button-row">
          <button type="submit" class="button" disabled={submission.busy}>{C.publish}</button>
        </div>
      </form>
    </section>
  );
}

function ConventionState(props: { convention: Convention }) {
  const c = props.convention;
  return (
    <span class="badges">
      {c.in_force ? <Badge kind="ok">{C.inForce}</Badge> : <Badge kind="todo">{C.fromDay(formatDay(c.effective_date))}</Badge>}
      <Badge kind={c.mandatory ? 'todo' : 'ok'}>{c.mandatory ? C.mandatoryYes : C.mandatoryNo}</Badge>
    </span>
  );
}

export function ConventionsPage() {
  const list = useLoad(() => call('get', '/api/v1/conventions'), []);
  return (
    <Page title={C.title} lead={C.lead}>
      {list.loading && !list.value && <Loading />}
      {list.error && <LoadError error={list.error} retry={() => void list.reload()} />}
      {list.value && list.value.conventions.length === 0 && <p>{C.none}</p>}
      {list.value && list.value.conventions.length > 0 && (
        <div class="table-wrap">
          <table class="data responsive">
            <caption class="visually-hidden">{C.title}</caption>
            <thead><tr><th scope="col">{C.titleLabel}</th><th scope="col">{C.version}</th><th scope="col">{C.effective}</th><th scope="col">{C.state}</th><th scope="col">{C.publishedOn}</th></tr></thead>
            <tbody>
              {list.value.conventions.map((c) => (
                <tr key={c.convention_id}>
                  <th scope="row" data-label={C.titleLabel}><a href={`${LIST}/${c.convention_id}`}>{c.title}</a></th>
                  <td data-label={C.version}>{c.version}</td>
                  <td data-label={C.effective}>{formatDay(c.effective_date)}</td>
                  <td data-label={C.state}><ConventionState convention={c} /></td>
                  <td data-label={C.publishedOn}>{formatDate(c.published_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <PublishForm onPublished={() => void list.reload()} />
    </Page>
  );
}

export function AcceptancesPage(props: { conventionId: string }) {
  const list = useLoad(() => call('get', '/api/v1/conventions'), []);
  const acceptances = useLoad(
    () => call('get', '/api/v1/conventions/{convention_id}/acceptances', { params: { convention_id: props.conventionId } }),
    [props.conventionId],
  );
  const convention = list.value?.conventions.find((c) => c.convention_id === props.conventionId);
  const a = acceptances.value;
  return (
    <Page title={convention ? C.acceptTitle(convention.title, convention.version) : C.title}>
      <p><a href={LIST}>{C.backToList}</a></p>
      {convention && <p><ConventionState convention={convention} /></p>}
      {(acceptances.loading || list.loading) && !a && <Loading />}
      {acceptances.error && <LoadError error={acceptances.error} retry={() => void acceptances.reload()} />}
      {a && (
        <>
          <p class="totals">{C.counts(a.accepted.length, a.pending.length)}</p>
          <section class="section" aria-labelledby="pending-title">
            <h2 id="pending-title">{C.pendingTitle(a.pending.length)}</h2>
            {a.pending.length === 0 ? <p>{C.nonePending}</p> : (
              <ul>
                {a.pending.map((p) => <li key={p.partner_id}><a href={`${BASE}/partenaires/${p.partner_id}`}>{p.name}</a></li>)}
              </ul>
            )}
          </section>
          <section class="section" aria-labelledby="accepted-title">
            <h2 id="accepted-title">{C.acceptedTitle(a.accepted.length)}</h2>
            {a.accepted.length === 0 ? <p>{C.noneAccepted}</p> : (
              <div class="table-wrap">
                <table class="data responsive">
                  <thead><tr><th scope="col">{C.partner}</th><th scope="col">{C.acceptedOn}</th><th scope="col">{C.acceptedBy}</th></tr></thead>
                  <tbody>
                    {a.accepted.map((p) => (
                      <tr key={p.partner_id}>
                        <th scope="row" data-label={C.partner}><a href={`${BASE}/partenaires/${p.partner_id}`}>{p.name}</a></th>
                        <td data-label={C.acceptedOn}>{formatDateTime(p.accepted_at)}</td>
                        <td data-label={C.acceptedBy}>{p.accepted_by.full_name}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </>
      )}
      {convention && (
        <details class="section">
          <summary>{C.readText}</summary>
          <div class="convention-text">{convention.text}</div>
        </details>
      )}
    </Page>
  );
}
