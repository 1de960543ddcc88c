/* beneficiaries.tsx - the beneficiaries: the list and its search (name or
 * e-mail, pass open or closed, envelope category) read page by page,
 * enrolling one (an activation e-mail, the envelope and its end date, a
 * first credit), and one beneficiary's page: the pass and its envelopes,
 * crediting an envelope (or opening one by its first credit, with an end
 * date set or extended), the latest operations and vouchers, and closing
 * the pass after a confirmation that says what it does. */
import { useState } from 'preact/hooks';
import { call } from '../../shared/api';
import { announce } from '../../shared/announce';
import { USUAL_CATEGORIES, categoryLabel } from '../../shared/categories.fr';
import { formatCents, formatDate, formatDateTime, formatDay, parseDay, parseEuros, parisToday } from '../../shared/format';
import { useLoad } from '../../shared/load';
import { navigate } from '../../shared/router';
import { ConfirmDialog, ErrorSummary, LoadError, Loading, Notice, Page, SelectField, TextArea, TextField, errorsOf, useForm, useSubmission, type FieldError } from '../../shared/ui';
import { BASE, type BeneficiaryDetail, type Envelope, type PassClosed } from '../data';
import { F } from '../strings-figures.fr';
import { T } from '../strings.fr';
import { Badge, Pager, SearchForm } from './common';

const B = T.beneficiaries;
const LIST = `${BASE}/beneficiaires`;
const categoryOptions = (): Array<[string, string]> => USUAL_CATEGORIES.map((c) => [c, categoryLabel(c)]);

function PassState(props: { status: 'open' | 'closed' }) {
  return props.status === 'closed' ? <Badge kind="closed">{B.closed}</Badge> : <Badge kind="ok">{B.open}</Badge>;
}

export function BeneficiariesPage(props: { query: URLSearchParams }) {
  const q = props.query.get('q') ?? '';
  const status = props.query.get('statut') ?? '';
  const category = props.query.get('categorie') ?? '';
  const cursor = props.query.get('curseur') ?? '';
  const [text, setText] = useState(q);
  const [statusValue, setStatusValue] = useState(status);
  const [categoryValue, setCategoryValue] = useState(category);
  const list = useLoad(
    () => call('get', '/api/v1/beneficiaries', {
      query: { q: q || undefined, status: status || 'all', category: category || undefined, cursor: cursor || undefined, limit: 50 },
    }),
    [q, status, category, cursor],
  );
  const rows = list.value?.beneficiaries ?? [];
  return (
    <Page title={B.title} lead={B.lead}>
      <p class="button-row"><a class="button" href={`${LIST}/nouveau`}>{B.enrol}</a> <a class="button button-secondary" href={`${LIST}/import`}>{F.dashboard.toImport}</a></p>
      <SearchForm path={LIST} values={{ q: text, statut: statusValue, categorie: categoryValue }} submit={B.search}>
        <TextField name="q" type="search" label={B.q} hint={B.qHint} value={text} onValue={setText} spellcheck={false} />
        <SelectField name="statut" label={B.status} value={statusValue} onValue={setStatusValue}
          options={[['', B.statusAll], ['open', B.statusOpen], ['closed', B.statusClosed]]} />
        <SelectField name="categorie" label={B.category} value={categoryValue} onValue={setCategoryValue}
          options={[['', B.categoryAll], ...categoryOptions()]} />
      </SearchForm>
      {list.loading && !list.value && <Loading />}
      {list.error && <LoadError error={list.error} retry={() => void list.reload()} />}
      {list.value && <p class="totals" role="status">{B.total(list.value.total)}</p>}
      {rows.length > 0 && (
        <div class="table-wrap">
          <table class="data responsive">
            <caption class="visually-hidden">{B.caption}</caption>
            <thead>
              <tr>
                <th scope="col">{B.name}</th>
                <th scope="col">{B.email}</th>
                <th scope="col">{B.pass}</th>
                <th scope="col">{B.envelopes}</th>
                <th scope="col" class="amount">{B.balance}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((b) => (
                <tr key={b.user_id}>
                  <th scope="row" data-label={B.name}><a href={`${LIST}/${b.user_id}`}>{b.full_name}</a></th>
                  <td data-label={B.email}>{b.email}{!b.activated && <span class="reason">{B.notActivated}</span>}</td>
                  <td data-label={B.pass}><PassState status={b.pass_status} /></td>
                  <td data-label={B.envelopes}>{b.categories.map(categoryLabel).join(', ') || '–'}</td>
                  <td data-label={B.balance} class="amount">{formatCents(b.balance_cents)}</td>
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

/** `YYYY-MM-DD` or "" (no end) from what was typed; null when it is not a day from today on. */
function endDateOf(text: string): string | null {
  if (!text.trim()) return '';
  const day = parseDay(text);
  return day && day >= parisToday() ? day : null;
}

const ENROL_FIELDS = ['full_name', 'email', 'category', 'end_date', 'amount'];

export function EnrolPage() {
  const { values, setLocal, submission, general, summary, errorOf, set } = useForm(
    { full_name: '', email: '', category: 'general', end_date: '', amount: '' }, ENROL_FIELDS,
    { email_taken: B.emailTaken, invalid_date: B.endDateInvalid, 'invalid_value:full_name': B.nameMissing });

  async function submit(event: Event) {
    event.preventDefault();
    const problems: FieldError[] = [];
    if (!values.full_name.trim()) problems.push({ field: 'full_name', text: B.nameMissing });
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.email.trim())) problems.push({ field: 'email', text: B.emailInvalid });
    const endDate = endDateOf(values.end_date);
    if (endDate === null) problems.push({ field: 'end_date', text: B.endDateInvalid });
    const cents = values.amount.trim() ? parseEuros(values.amount) : 0;
    if (cents === null || (values.amount.trim() && cents === 0)) problems.push({ field: 'amount', text: B.amountInvalid });
    setLocal(problems);
    if (problems.length) return;
    const created = await submission.run(async (key) => {
      const enrolled = await call('post', '/api/v1/beneficiaries', {
        key,
        body: { full_name: values.full_name.trim(), email: values.email.trim(), envelopes: [{ category: values.category, end_date: endDate || null }] },
      });
      // The first credit is a second command of the same submission: its key
      // is derived from the enrolment's, so a retry replays both.
      if (cents) {
        await call('post', '/api/v1/passes/{pass_id}/credits', { params: { pass_id: enrolled.pass_id }, key: `${key}-c`, body: { category: values.category, amount_cents: cents } });
      }
      return enrolled;
    });
    if (created) {
      announce(B.enrolledTitle(created.full_name));
      navigate(`${LIST}/${created.user_id}?inscrit=1`);
    }
  }

  return (
    <Page title={B.enrolTitle} lead={B.enrolLead}>
      <ErrorSummary errors={summary} general={general} />
      <form class="form" onSubmit={submit} noValidate>
        <TextField name="full_name" label={B.fullName} value={values.full_name} onValue={set('full_name')} error={errorOf('full_name')} maxLength={200} autoComplete="off" />
        <TextField name="email" type="email" label={B.email} hint={B.emailHint} value={values.email} onValue={set('email')} error={errorOf('email')} spellcheck={false} autoComplete="off" />
        <SelectField name="category" label={B.envelope} hint={B.envelopeHint} value={values.category} onValue={set('category')} error={errorOf('category')} options={categoryOptions()} />
        <TextField name="end_date" label={B.endDate} hint={B.endDateHint} value={values.end_date} onValue={set('end_date')} error={errorOf('end_date')} class="input-short" inputMode="numeric" autoComplete="off" />
        <TextField name="amount" label={B.firstCredit} hint={B.firstCreditHint} value={values.amount} onValue={set('amount')} error={errorOf('amount')} class="input-short" inputMode="decimal" autoComplete="off" />
        <div class="button-row">
          <button type="submit" class="button" disabled={submission.busy}>{submission.busy ? B.enrolling : B.enrolSubmit}</button>
          <a href={LIST}>{T.cancel}</a>
        </div>
      </form>
    </Page>
  );
}

function Envelopes(props: { envelopes: Envelope[]; closed: boolean }) {
  return (
    <div class="table-wrap">
      <table class="data responsive">
        <caption>{B.envelopes}</caption>
        <thead><tr><th scope="col">{B.category}</th><th scope="col" class="amount">{B.balance}</th><th scope="col">{B.until}</th></tr></thead>
        <tbody>
          {props.envelopes.map((e) => (
            <tr key={e.category}>
              <th scope="row" data-label={B.category}>{categoryLabel(e.category)}</th>
              <td data-label={B.balance} class="amount">{formatCents(e.balance_cents)}</td>
              <td data-label={B.until}>{props.closed ? B.closed : e.expired ? <Badge kind="closed">{B.expired(formatDay(e.end_date))}</Badge> : e.end_date ? formatDay(e.end_date) : B.noEnd}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The envelopes a pass holds at most (the ledger refuses a ninth). */
const ENVELOPES_MAX = 8;

/** What the credit form offers: the pass's envelopes (an expired one can be
 * credited again with a new end date), then the usual categories it lacks,
 * which a credit opens (while the pass has room). */
function creditOptions(envelopes: Envelope[]): Array<[string, string]> {
  const own = envelopes.map((e): [string, string] => [
    e.category,
    e.expired ? B.expiredEnvelope(categoryLabel(e.category), formatDay(e.end_date)) : `${categoryLabel(e.category)} (${formatCents(e.balance_cents)})`,
  ]);
  if (envelopes.length >= ENVELOPES_MAX) return own;
  const missing = USUAL_CATEGORIES.filter((c) => !envelopes.some((e) => e.category === c));
  return [...own, ...missing.map((c): [string, string] => [c, B.newEnvelope(categoryLabel(c))])];
}

function categoryHint(envelope: Envelope | undefined): string {
  if (!envelope) return B.opensEnvelope;
  if (envelope.expired) return B.expiredNeedsDate;
  return envelope.end_date ? B.usableUntil(formatDay(envelope.end_date)) : B.noEnd;
}

/** The problems seen before sending: an amount, an end date from today on
 * and never before the envelope's own, a new one for an expired envelope. */
function creditProblems(envelope: Envelope | undefined, amount: string, endDateText: string): FieldError[] {
  const problems: FieldError[] = [];
  if (!parseEuros(amount)) problems.push({ field: 'amount', text: B.amountInvalid });
  const endDate = endDateOf(endDateText);
  if (endDate === null) problems.push({ field: 'end_date', text: B.endDateInvalid });
  else if (endDate && envelope?.end_date && endDate < envelope.end_date) problems.push({ field: 'end_date', text: B.endDateEarlier(formatDay(envelope.end_date)) });
  else if (!endDate && envelope?.expired) problems.push({ field: 'end_date', text: B.expiredNeedsDate });
  return problems;
}

function CreditForm(props: { passId: string; envelopes: Envelope[]; onDone: () => void }) {
  const options = creditOptions(props.envelopes);
  const [category, setCategory] = useState(props.envelopes.find((e) => !e.expired)?.category ?? options[0]?.[0] ?? 'general');
  const [amount, setAmount] = useState('');
  const [endDate, setEndDate] = useState('');
  const [local, setLocal] = useState<FieldError[]>([]);
  const [done, setDone] = useState<string | null>(null);
  const submission = useSubmission();
  const { byField, summary, general } = errorsOf(submission.error, ['category', 'amount_cents', 'end_date'], { invalid_amount: B.amountInvalid, invalid_date: B.endDateInvalid });
  const errorOf = (name: string) => local.find((e) => e.field === name)?.text ?? byField[name] ?? (name === 'amount' ? byField.amount_cents : undefined);
  const envelope = props.envelopes.find((e) => e.category === category);

  async function submit(event: Event) {
    event.preventDefault();
    const problems = creditProblems(envelope, amount, endDate);
    setLocal(problems);
    setDone(null);
    if (problems.length) return;
    const cents = parseEuros(amount) ?? 0;
    const day = endDateOf(endDate);
    const body = day ? { category, amount_cents: cents, end_date: day } : { category, amount_cents: cents };
    const credit = await submission.run((key) => call('post', '/api/v1/passes/{pass_id}/credits', { params: { pass_id: props.passId }, key, body }));
    if (credit) {
      const name = categoryLabel(credit.category);
      const head = credit.envelope_opened ? B.creditedOpened(formatCents(credit.amount_cents), name) : B.credited(formatCents(credit.amount_cents), name, formatCents(credit.envelope_balance_after_cents));
      const said = `${head} ${credit.end_date ? B.creditedUntil(formatDay(credit.end_date)) : B.creditedNoEnd}`;
      setDone(said);
      setAmount('');
      setEndDate('');
      announce(said);
      props.onDone();
    }
  }

  return (
    <section class="section" aria-labelledby="credit-title">
      <h2 id="credit-title">{B.creditTitle}</h2>
      {done && <Notice kind="success" role="status">{done}</Notice>}
      <ErrorSummary errors={local.length ? local : summary} general={general} />
      <form class="form" onSubmit={submit} noValidate>
        <SelectField name="category" label={B.envelope} value={category} onValue={setCategory} error={errorOf('category')}
          hint={`${B.creditCategoryHint} ${categoryHint(envelope)}`} options={options} />
        <TextField name="amount" label={B.amount} hint={B.amountHint} value={amount} onValue={setAmount} error={errorOf('amount')} class="input-short" inputMode="decimal" autoComplete="off" />
        <TextField name="end_date" label={B.creditEndDate} hint={B.creditEndDateHint} value={endDate} onValue={setEndDate} error={errorOf('end_date')} class="input-short" inputMode="numeric" autoComplete="off" />
        <div class="button-row">
          <button type="submit" class="button" disabled={submission.busy}>{B.creditSubmit}</button>
        </div>
      </form>
    </section>
  );
}

function ClosePass(props: { detail: BeneficiaryDetail; onClosed: (closed: PassClosed) => void }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const submission = useSubmission();
  const pass = props.detail.pass;
  const activeVouchers = props.detail.vouchers.filter((v) => v.status === 'active').length;
  async function close() {
    const closed = await submission.run((key) =>
      call('post', '/api/v1/passes/{pass_id}/close', { params: { pass_id: pass.pass_id }, key, body: reason.trim() ? { reason: reason.trim() } : {} }),
    );
    if (closed) {
      setOpen(false);
      props.onClosed(closed);
    }
  }
  return (
    <section class="danger-zone" aria-labelledby="close-title">
      <h2 id="close-title">{B.closeTitle}</h2>
      <p>{B.closeLead}</p>
      <button type="button" class="button button-danger" onClick={() => { submission.setError(null); setOpen(true); }}>{B.closeButton}</button>
      <ConfirmDialog open={open} title={B.confirmTitle(props.detail.full_name)} confirm={B.confirmButton} cancel={T.cancel} danger busy={submission.busy}
        onConfirm={() => void close()} onClose={() => setOpen(false)}>
        <p>{B.confirmWhat}</p>
        <ul>
          <li>{B.confirmMoney(formatCents(pass.balance_cents))}</li>
          <li>{B.confirmVouchers(activeVouchers)}</li>
          <li>{B.confirmPay}</li>
          <li>{B.confirmFinal}</li>
        </ul>
        <TextArea name="reason" label={B.reason} hint={B.reasonHint} value={reason} onValue={setReason} rows={2} maxLength={200} />
        {submission.error && <p class="error-message" role="alert">{errorsOf(submission.error, [], { pass_closed: B.alreadyClosed }).general}</p>}
      </ConfirmDialog>
    </section>
  );
}

export function BeneficiaryPage(props: { userId: string; enrolled: boolean }) {
  const detail = useLoad(() => call('get', '/api/v1/beneficiaries/{user_id}', { params: { user_id: props.userId } }), [props.userId]);
  const [closed, setClosed] = useState<PassClosed | null>(null);
  const d = detail.value;
  const isClosed = d?.pass.status === 'closed';
  return (
    <Page title={d ? d.full_name : B.detailTitle}>
      <p><a href={LIST}>{B.backToList}</a></p>
      {props.enrolled && d && (
        <Notice kind="success" title={B.enrolledTitle(d.full_name)} role="status"><p>{B.enrolledText(d.email)}</p></Notice>
      )}
      {closed && (
        <Notice kind="success" title={B.closedTitle} role="status">
          <p>{B.closedText(formatCents(closed.returned_cents), closed.vouchers_cancelled)}</p>
        </Notice>
      )}
      {detail.loading && !d && <Loading />}
      {detail.error && <LoadError error={detail.error} retry={() => void detail.reload()} />}
      {d && (
        <>
          <dl class="facts">
            <dt>{B.email}</dt><dd>{d.email}</dd>
            <dt>{B.account}</dt><dd>{d.activated ? <Badge kind="ok">{B.activated}</Badge> : <Badge kind="todo">{B.notActivated}</Badge>}</dd>
            <dt>{B.enrolledOn}</dt><dd>{formatDate(d.created_at)}</dd>
            <dt>{B.pass}</dt><dd><PassState status={d.pass.status ?? 'open'} />{isClosed && d.pass.closed_at && <span class="reason">{B.closedOn(formatDate(d.pass.closed_at))}</span>}</dd>
            <dt>{B.balance}</dt><dd class="amount-big">{formatCents(d.pass.balance_cents)}</dd>
          </dl>
          <p><a href={`${BASE}/pass/${d.pass.pass_id}/historique?retour=${encodeURIComponent(`${LIST}/${d.user_id}`)}`}>{F.history.passLink}</a></p>
          <Envelopes envelopes={d.pass.envelopes} closed={isClosed} />
          {!isClosed && <CreditForm passId={d.pass.pass_id} envelopes={d.pass.envelopes} onDone={() => void detail.reload()} />}
          <section class="section" aria-labelledby="ops-title">
            <h2 id="ops-title">{B.operations}</h2>
            {d.operations.length === 0 ? <p>{B.noOperations}</p> : (
              <div class="table-wrap">
                <table class="data responsive">
                  <thead><tr><th scope="col">{B.opWhen}</th><th scope="col">{B.opKind}</th><th scope="col">{B.category}</th><th scope="col" class="amount">{B.opAmount}</th><th scope="col">{B.opStatus}</th></tr></thead>
                  <tbody>
                    {d.operations.map((o) => (
                      <tr key={o.operation_id}>
                        <td data-label={B.opWhen} class="nowrap">{formatDateTime(o.occurred_at)}</td>
                        <td data-label={B.opKind}>{B.kinds[o.kind] ?? o.kind}</td>
                        <td data-label={B.category}>{categoryLabel(o.category)}</td>
                        <td data-label={B.opAmount} class="amount">{formatCents(o.amount_cents)}</td>
                        <td data-label={B.opStatus}>{T.opStatus[o.status]}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
          <section class="section" aria-labelledby="vouchers-title">
            <h2 id="vouchers-title">{B.vouchers}</h2>
            {d.vouchers.length === 0 ? <p>{B.noVouchers}</p> : (
              <ul>
                {d.vouchers.map((v) => (
                  <li key={v.voucher_id}>{B.voucherLine(formatCents(v.amount_cents), categoryLabel(v.category), B.voucherStatus[v.status] ?? v.status, formatDay(v.valid_until))}</li>
                ))}
              </ul>
            )}
          </section>
          {!isClosed && !closed && <ClosePass detail={d} onClosed={(c) => { setClosed(c); announce(B.closedTitle); void detail.reload(); }} />}
        </>
      )}
    </Page>
  );
}
