/* partners.tsx - the partners: the list with its search and state filters
 * (activation, convention, bank details, owed), onboarding a new one (its
 * administrator receives the activation e-mail), and one partner's page:
 * structure, users, latest operations and refund requests, what the city
 * owes it, and the activation e-mail sent again. */
import { useState } from 'preact/hooks';
import { call } from '../../shared/api';
import { announce } from '../../shared/announce';
import { USUAL_CATEGORIES, categoryLabel } from '../../shared/categories.fr';
import { messageFor } from '../../shared/errors.fr';
import { formatCents, formatDate, formatDateTime, formatMonth } from '../../shared/format';
import { useLoad } from '../../shared/load';
import { navigate } from '../../shared/router';
import { ErrorSummary, LoadError, Loading, Notice, Page, SelectField, TextField, useForm, useSubmission, type FieldError } from '../../shared/ui';
import { BASE, type PartnerDetail, type PartnerSummary } from '../data';
import { F } from '../strings-figures.fr';
import { T } from '../strings.fr';
import { Badge, Pager, SearchForm } from './common';

const P = T.partners;
const LIST = `${BASE}/partenaires`;

export function PartnerStates(props: { partner: PartnerSummary }) {
  const p = props.partner;
  return (
    <span class="badges">
      {p.activated === false && <Badge kind="todo">{P.states.notActivated}</Badge>}
      {p.activated === true && <Badge kind="ok">{P.states.activated}</Badge>}
      {p.convention_accepted === false && <Badge kind="todo">{P.states.conventionPending}</Badge>}
      {p.bank_details_missing === true && <Badge kind="todo">{P.states.bankMissing}</Badge>}
      {p.owed_cents > 0 && <Badge kind="todo">{P.states.owed}</Badge>}
    </span>
  );
}

export function PartnersPage(props: { query: URLSearchParams }) {
  const q = props.query.get('q') ?? '';
  const state = props.query.get('etat') ?? '';
  const cursor = props.query.get('curseur') ?? '';
  const [text, setText] = useState(q);
  const [stateValue, setStateValue] = useState(state);
  const list = useLoad(
    () => call('get', '/api/v1/partners', { query: { q: q || undefined, state: state || undefined, cursor: cursor || undefined, limit: 50 } }),
    [q, state, cursor],
  );
  return (
    <Page title={P.title} lead={P.lead}>
      <p>
        <a class="button" href={`${LIST}/nouveau`}>{P.create}</a>
      </p>
      <SearchForm path={LIST} values={{ q: text, etat: stateValue }} submit={P.search}>
        <TextField name="q" type="search" label={P.q} hint={P.qHint} value={text} onValue={setText} spellcheck={false} />
        <SelectField name="etat" label={P.state} value={stateValue} onValue={setStateValue}
          options={[['', P.stateAll], ...Object.entries(P.stateFilters)]} />
      </SearchForm>
      {list.loading && !list.value && <Loading />}
      {list.error && <LoadError error={list.error} retry={() => void list.reload()} />}
      {list.value && list.value.partners.length === 0 && <p>{q || state ? P.noneFound : P.none}</p>}
      {list.value && list.value.partners.length > 0 && (
        <div class="table-wrap">
          <table class="data responsive">
            <caption class="visually-hidden">{P.caption}</caption>
            <thead>
              <tr>
                <th scope="col">{P.name}</th>
                <th scope="col">{P.code}</th>
                <th scope="col">{P.category}</th>
                <th scope="col">{P.states.title}</th>
                <th scope="col" class="amount">{P.owed}</th>
              </tr>
            </thead>
            <tbody>
              {list.value.partners.map((p) => (
                <tr key={p.partner_id}>
                  <th scope="row" data-label={P.name}><a href={`${LIST}/${p.partner_id}`}>{p.name}</a></th>
                  <td data-label={P.code} class="nowrap">{p.partner_code}</td>
                  <td data-label={P.category}>{categoryLabel(p.category)}</td>
                  <td data-label={P.states.title}><PartnerStates partner={p} /></td>
                  <td data-label={P.owed} class="amount">{formatCents(p.owed_cents)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.value && <Pager path={LIST} query={props.query} nextCursor={list.value.next_cursor} />}
    </Page>
  );
}

const CREATE_FIELDS = ['name', 'category', 'admin_full_name', 'admin_email'] as const;

export function PartnerCreatePage() {
  const { values, setLocal, submission, general, summary, errorOf, set } = useForm(
    { name: '', category: 'sport', admin_full_name: '', admin_email: '' }, CREATE_FIELDS, { email_taken: P.emailTaken });

  async function submit(event: Event) {
    event.preventDefault();
    const problems: FieldError[] = [];
    if (!values.name.trim()) problems.push({ field: 'name', text: P.nameMissing });
    if (!values.admin_full_name.trim()) problems.push({ field: 'admin_full_name', text: P.adminNameMissing });
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.admin_email.trim())) problems.push({ field: 'admin_email', text: P.adminEmailInvalid });
    setLocal(problems);
    if (problems.length) return;
    const created = await submission.run((key) =>
      call('post', '/api/v1/partners', {
        key,
        body: { name: values.name.trim(), category: values.category, admin_full_name: values.admin_full_name.trim(), admin_email: values.admin_email.trim() },
      }),
    );
    if (created) {
      announce(P.createdTitle(created.name));
      navigate(`${LIST}/${created.partner_id}?cree=1`);
    }
  }

  return (
    <Page title={P.createTitle} lead={P.createLead}>
      <ErrorSummary errors={summary} general={general} />
      <form class="form" onSubmit={submit} noValidate>
        <TextField name="name" label={P.name} hint={P.nameHint} value={values.name} onValue={set('name')} error={errorOf('name')} maxLength={200} autoComplete="off" />
        <SelectField name="category" label={P.category} hint={P.categoryHint} value={values.category} onValue={set('category')} error={errorOf('category')}
          options={USUAL_CATEGORIES.filter((c) => c !== 'general').map((c): [string, string] => [c, categoryLabel(c)])} />
        <fieldset class="field">
          <legend>{P.adminLegend}</legend>
          <p class="hint">{P.adminHint}</p>
          <TextField name="admin_full_name" label={P.adminName} value={values.admin_full_name} onValue={set('admin_full_name')} error={errorOf('admin_full_name')} maxLength={200} autoComplete="off" />
          <TextField name="admin_email" type="email" label={P.adminEmail} value={values.admin_email} onValue={set('admin_email')} error={errorOf('admin_email')} spellcheck={false} autoComplete="off" />
        </fieldset>
        <div class="button-row">
          <button type="submit" class="button" disabled={submission.busy}>{submission.busy ? P.creating : P.createSubmit}</button>
          <a href={LIST}>{T.cancel}</a>
        </div>
      </form>
    </Page>
  );
}

function ResendActivation(props: { partnerId: string }) {
  const submission = useSubmission();
  const [sent, setSent] = useState(false);
  async function resend() {
    const done = await submission.run(async (key) => {
      await call('post', '/api/v1/partners/{partner_id}/activation-email', { params: { partner_id: props.partnerId }, key });
      return true;
    });
    if (done) {
      setSent(true);
      announce(P.resent);
    }
  }
  return (
    <div>
      <div class="button-row">
        <button type="button" class="button button-secondary" disabled={submission.busy} aria-describedby={submission.error ? 'resend-error' : undefined} onClick={() => void resend()}>
          {P.resend}
        </button>
      </div>
      {sent && <Notice kind="success" role="status">{P.resent}</Notice>}
      {submission.error && (
        <p class="error-message" id="resend-error" role="alert">{messageFor(submission.error, { already_activated: P.alreadyActivated })}</p>
      )}
    </div>
  );
}

function Structure(props: { detail: PartnerDetail }) {
  const s = props.detail.structure;
  const dash = (v: string) => v || P.notGiven;
  return (
    <section class="section" aria-labelledby="structure-title">
      <h2 id="structure-title">{P.structure}</h2>
      <dl class="facts">
        <dt>{P.legalName}</dt><dd>{dash(s.legal_name)}</dd>
        <dt>{P.publicName}</dt><dd>{dash(s.public_name)}</dd>
        <dt>{P.hqAddress}</dt><dd>{dash(s.hq_address)}</dd>
        <dt>{P.activityAddress}</dt><dd>{dash(s.activity_address)}</dd>
        <dt>{P.contact}</dt><dd>{[s.contact_email, s.contact_phone].filter(Boolean).join(' · ') || P.notGiven}</dd>
        <dt>{P.iban}</dt><dd>{s.iban ? P.ibanEnding(s.iban.replace(/\s/g, '').slice(-4), s.bank_holder) : <Badge kind="todo">{P.states.bankMissing}</Badge>}</dd>
      </dl>
    </section>
  );
}

function Users(props: { detail: PartnerDetail }) {
  return (
    <section class="section" aria-labelledby="users-title">
      <h2 id="users-title">{P.users}</h2>
      <div class="table-wrap">
        <table class="data responsive">
          <thead><tr><th scope="col">{P.userName}</th><th scope="col">{P.userEmail}</th><th scope="col">{P.userRole}</th><th scope="col">{P.userState}</th></tr></thead>
          <tbody>
            {props.detail.users.map((u) => (
              <tr key={u.user_id}>
                <th scope="row" data-label={P.userName}>{u.full_name}</th>
                <td data-label={P.userEmail}>{u.email}</td>
                <td data-label={P.userRole}>{P.partnerRoles[u.role]}</td>
                <td data-label={P.userState}>{u.activated ? <Badge kind="ok">{P.states.activated}</Badge> : <Badge kind="todo">{P.states.notActivated}</Badge>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Operations(props: { detail: PartnerDetail }) {
  const ops = props.detail.operations;
  return (
    <section class="section" aria-labelledby="ops-title">
      <h2 id="ops-title">{P.operations}</h2>
      {ops.length === 0 ? <p>{P.noOperations}</p> : (
        <div class="table-wrap">
          <table class="data responsive">
            <thead><tr><th scope="col">{P.opWhen}</th><th scope="col" class="amount">{P.opAmount}</th><th scope="col">{P.category}</th><th scope="col">{P.opStatus}</th></tr></thead>
            <tbody>
              {ops.map((o) => (
                <tr key={o.operation_id}>
                  <td data-label={P.opWhen} class="nowrap">{formatDateTime(o.occurred_at)}</td>
                  <td data-label={P.opAmount} class="amount">{formatCents(o.amount_cents)}</td>
                  <td data-label={P.category}>{categoryLabel(o.category)}</td>
                  <td data-label={P.opStatus}><span class={`tag tag-${o.status}`}>{T.opStatus[o.status]}</span></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Refunds(props: { detail: PartnerDetail }) {
  const requests = props.detail.refund_requests;
  return (
    <section class="section" aria-labelledby="refunds-title">
      <h2 id="refunds-title">{P.refunds}</h2>
      {requests.length === 0 ? <p>{P.noRefunds}</p> : (
        <div class="table-wrap">
          <table class="data responsive">
            <thead><tr><th scope="col">{P.refundAsked}</th><th scope="col">{P.refundPeriod}</th><th scope="col" class="amount">{P.refundTotal}</th><th scope="col">{P.refundStatus}</th></tr></thead>
            <tbody>
              {requests.map((r) => (
                <tr key={r.request_id}>
                  <td data-label={P.refundAsked} class="nowrap">{formatDate(r.created_at)}</td>
                  <td data-label={P.refundPeriod}>{r.period ? formatMonth(r.period) : P.manual}</td>
                  <td data-label={P.refundTotal} class="amount">{formatCents(r.total_cents)}</td>
                  <td data-label={P.refundStatus}><span class={`tag tag-${r.status}`}>{T.refundStatus[r.status]}</span>{r.paid_on && <span class="reason">{P.paidOn(formatDate(r.paid_on))}</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function PartnerPage(props: { partnerId: string; created: boolean }) {
  const detail = useLoad(() => call('get', '/api/v1/partners/{partner_id}', { params: { partner_id: props.partnerId } }), [props.partnerId]);
  const d = detail.value;
  const title = d ? d.partner.name : P.detailTitle;
  return (
    <Page title={title}>
      <p><a href={LIST}>{P.backToList}</a></p>
      {props.created && d && (
        <Notice kind="success" title={P.createdTitle(d.partner.name)} role="status">
          <p>{P.createdText(d.users[0]?.email ?? '')}</p>
        </Notice>
      )}
      {detail.loading && !d && <Loading />}
      {detail.error && <LoadError error={detail.error} retry={() => void detail.reload()} />}
      {d && (
        <>
          <dl class="facts">
            <dt>{P.code}</dt><dd>{d.partner.partner_code}</dd>
            <dt>{P.category}</dt><dd>{categoryLabel(d.partner.category)}</dd>
            <dt>{P.states.title}</dt><dd><PartnerStates partner={d.partner} /></dd>
            <dt>{P.owed}</dt><dd class="amount-big">{formatCents(d.partner.owed_cents)}</dd>
          </dl>
          <p><a href={`${BASE}/partenaires/${props.partnerId}/historique`}>{F.history.partnerLink}</a></p>
          {d.users.some((u) => !u.activated) && <ResendActivation partnerId={props.partnerId} />}
          <div class="detail-grid">
            <Structure detail={d} />
            <Users detail={d} />
          </div>
          <Operations detail={d} />
          <Refunds detail={d} />
        </>
      )}
    </Page>
  );
}
