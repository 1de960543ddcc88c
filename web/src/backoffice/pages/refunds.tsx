/* refunds.tsx - the refunds, for finance and the back-office: the partners'
 * requests by state, partner and month (`GET /api/v1/finance/refund-requests`,
 * read page by page up to a bound), a selection of pending ones turned into
 * the SEPA transfer file for the bank (`POST /api/v1/finance/sepa`), one
 * request marked paid with its transfer reference
 * (`POST .../{request_id}/paid`, one Idempotency-Key per submission), and
 * what the city owes to whom (`GET /api/v1/finance/owed`). Every request
 * names its partner (`partner_name`). Filters live in the address. */
import '../figures.css';
import { useState } from 'preact/hooks';
import { call, callForFile } from '../../shared/api';
import { announce } from '../../shared/announce';
import { formatCents, formatCount, formatDate, formatDay, formatMonth, parisToday, parseDay } from '../../shared/format';
import { useLoad } from '../../shared/load';
import { setQuery } from '../../shared/router';
import { ConfirmDialog, ErrorSummary, errorsOf, LoadError, Loading, Notice, Page, TextField, useSubmission } from '../../shared/ui';
import type { paths } from '../../shared/api.gen';
import { BASE, type RefundRequest } from '../data';
import { F } from '../strings-figures.fr';

const R = F.refunds;
const PAGE_LIMIT = 200;
const PAGES_MAX = 10;
const SEPA_MAX = 300;
const STATUSES = ['pending', 'opening', 'paid', 'cancelled'];

type OwedPage = paths['/api/v1/finance/owed']['get']['responses'][200]['content']['application/json'];
type Owed = OwedPage['partners'][number];

/** What the city owes to whom, most owed first, for finance as for the
 * back-office (`GET /api/v1/finance/owed`), read page by page (bounded). */
async function loadOwed(): Promise<{ owed: Owed[]; totals: OwedPage['totals']; complete: boolean }> {
  const owed: Owed[] = [];
  let cursor: string | null = null;
  let totals: OwedPage['totals'] = { partner_count: 0, owed_cents: 0 };
  for (let page = 0; page < PAGES_MAX; page++) {
    const answer: OwedPage = await call('get', '/api/v1/finance/owed', { query: { limit: PAGE_LIMIT, cursor: cursor ?? undefined } });
    owed.push(...answer.partners);
    totals = answer.totals;
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return { owed, totals, complete: !cursor };
}

/** Every request of the filter, newest first, read page by page (bounded). */
async function loadRequests(status: string, partnerId: string): Promise<{ requests: RefundRequest[]; truncated: boolean }> {
  const requests: RefundRequest[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < PAGES_MAX; page++) {
    const answer: { refund_requests: RefundRequest[]; next_cursor: string | null } = await call('get', '/api/v1/finance/refund-requests', {
      query: { status: status || undefined, partner_id: partnerId || undefined, limit: PAGE_LIMIT, cursor: cursor ?? undefined },
    });
    requests.push(...answer.refund_requests);
    cursor = answer.next_cursor;
    if (!cursor) return { requests, truncated: false };
  }
  return { requests, truncated: true };
}

function monthOf(request: RefundRequest): string {
  return request.period ?? parisToday(new Date(request.created_at ?? Date.now())).slice(0, 7);
}

function saveFile(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function MarkPaidDialog(props: { request: RefundRequest | null; partner: string; onClose: () => void; onPaid: (r: RefundRequest) => void }) {
  const [reference, setReference] = useState('');
  const [paidOn, setPaidOn] = useState(formatDay(parisToday()));
  const [local, setLocal] = useState<Record<string, string>>({});
  const submission = useSubmission();
  const request = props.request;
  const fields = ['transfer_reference', 'paid_on'];
  const api = errorsOf(submission.error, fields);
  const byField = { ...api.byField, ...local };
  async function confirm() {
    if (!request) return;
    const day = parseDay(paidOn);
    const problems: Record<string, string> = {};
    if (!reference.trim()) problems.transfer_reference = R.referenceMissing;
    if (!day) problems.paid_on = R.dateInvalid;
    setLocal(problems);
    if (Object.keys(problems).length > 0 || !day) return;
    const answer = await submission.run((key) =>
      call('post', '/api/v1/finance/refund-requests/{request_id}/paid', {
        params: { request_id: request.request_id },
        body: { transfer_reference: reference.trim(), paid_on: day },
        key,
      }),
    );
    if (answer) {
      setReference('');
      props.onPaid(answer);
    }
  }
  const summary = Object.entries(byField).map(([field, text]) => ({ field, text }));
  return (
    <ConfirmDialog
      open={request !== null}
      title={R.paidTitle}
      confirm={R.confirmPaid}
      cancel={R.cancel}
      busy={submission.busy}
      onConfirm={() => void confirm()}
      onClose={() => {
        setLocal({});
        submission.setError(null);
        props.onClose();
      }}
    >
      {request && <p>{R.paidLead(props.partner, formatCents(request.total_cents))}</p>}
      <ErrorSummary errors={summary} general={api.general} />
      <TextField name="transfer_reference" label={R.reference} hint={R.referenceHint} error={byField.transfer_reference} value={reference} onValue={setReference} maxLength={35} autoComplete="off" />
      <TextField name="paid_on" label={R.paidOnLabel} hint={R.paidOnHint} error={byField.paid_on} value={paidOn} onValue={setPaidOn} inputMode="numeric" class="input-short" />
    </ConfirmDialog>
  );
}

function RequestRow(props: { request: RefundRequest; partner: string; selected: boolean; onSelect: (on: boolean) => void; onPay: () => void }) {
  const r = props.request;
  const pending = r.status === 'pending';
  return (
    <tr data-request-id={r.request_id}>
      <td data-label={R.colSelect}>
        {pending && (
          <input type="checkbox" class="row-check" checked={props.selected} aria-label={R.select(props.partner, formatCents(r.total_cents))} onChange={(e) => props.onSelect(e.currentTarget.checked)} />
        )}
      </td>
      <th scope="row" data-label={R.colPartner}>
        {props.partner}
        {r.bank_account_missing && <span class="reason">{R.bankMissing}</span>}
      </th>
      <td data-label={R.colRequest}>
        {r.kind === 'automatic' && r.period ? R.automatic(formatMonth(r.period)) : R.manual(formatDate(r.created_at))}
        {r.status === 'paid' && r.paid_on && <span class="reason">{R.paidOn(formatDay(r.paid_on), r.transfer_reference ?? '')}</span>}
      </td>
      <td data-label={R.colPayments} class="amount">
        {formatCount(r.operation_count)}
      </td>
      <td data-label={R.colAmount} class="amount">
        {formatCents(r.total_cents)}
      </td>
      <td data-label={R.colStatus}>
        <span class={`tag tag-${r.status}`} data-testid="refund-status">
          {R.statuses[r.status] ?? r.status}
        </span>
      </td>
      <td data-label={R.colActions}>
        {pending && (
          <button type="button" class="button button-small button-secondary" onClick={props.onPay}>
            {R.markPaid}
            <span class="visually-hidden">{R.markPaidOf(props.partner)}</span>
          </button>
        )}
      </td>
    </tr>
  );
}

function OwedTable(props: { owed: Owed[]; totals: OwedPage['totals']; complete: boolean }) {
  return (
    <section aria-labelledby="owed-title" class="owed">
      <h2 id="owed-title">{R.owedTitle}</h2>
      <p class="muted">{R.owedLead}</p>
      {props.owed.length === 0 ? (
        <p>{R.owedNone}</p>
      ) : (
        <>
          <p class="totals" data-testid="owed-total">{R.owedTotal(formatCents(props.totals.owed_cents), props.totals.partner_count)}</p>
          {!props.complete && <Notice kind="warning" title={R.owedTruncated(formatCount(props.owed.length))} />}
          <div class="table-wrap">
            <table class="data responsive" data-testid="owed">
              <caption class="visually-hidden">{R.owedCaption}</caption>
              <thead>
                <tr>
                  <th scope="col">{R.colPartner}</th>
                  <th scope="col" class="amount">
                    {R.colOwed}
                  </th>
                  <th scope="col" class="amount">
                    {R.colPending}
                  </th>
                </tr>
              </thead>
              <tbody>
                {props.owed.map((p) => (
                  <tr key={p.partner_id}>
                    <th scope="row" data-label={R.colPartner}>
                      <a href={`${BASE}/remboursements?partenaire=${p.partner_id}&etat=pending`} aria-label={R.seeRequests(p.name)}>
                        {p.name}
                      </a>
                      {p.bank_details_missing && <span class="reason">{R.bankMissing}</span>}
                    </th>
                    <td data-label={R.colOwed} class="amount">
                      {formatCents(p.owed_cents)}
                    </td>
                    <td data-label={R.colPending} class="amount">
                      {formatCents(p.requested_cents)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

function Filters(props: { status: string; partner: string; month: string; partners: Map<string, string>; months: string[] }) {
  return (
    <form
      class="filters filters-inline"
      aria-label={R.filters}
      onSubmit={(e) => {
        e.preventDefault();
        const data = new FormData(e.currentTarget);
        const get = (name: string) => {
          const value = data.get(name);
          return typeof value === 'string' && value ? value : undefined;
        };
        setQuery({ etat: get('etat') ?? 'tous', partenaire: get('partenaire'), mois: get('mois') });
      }}
    >
      <div class="field">
        <label for="refund-status">{R.status}</label>
        <select id="refund-status" name="etat" value={props.status}>
          <option value="">{R.statusAll}</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {R.statuses[s]}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="refund-partner">{R.partner}</label>
        <select id="refund-partner" name="partenaire" value={props.partner}>
          <option value="">{R.partnerAll}</option>
          {[...props.partners].sort((a, b) => a[1].localeCompare(b[1], 'fr')).map(([id, name]) => (
            <option key={id} value={id}>
              {name}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="refund-month">{R.month}</label>
        <select id="refund-month" name="mois" value={props.month}>
          <option value="">{R.monthAll}</option>
          {props.months.map((m) => (
            <option key={m} value={m}>
              {formatMonth(m)}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" class="button button-secondary">
        {R.apply}
      </button>
    </form>
  );
}

export function RefundsPage(props: { query: URLSearchParams }) {
  const statusAsked = props.query.get('etat') ?? 'pending';
  const status = STATUSES.includes(statusAsked) ? statusAsked : '';
  const partnerId = props.query.get('partenaire') ?? '';
  const month = props.query.get('mois') ?? '';
  const owed = useLoad(loadOwed, []);
  const list = useLoad(() => loadRequests(status, partnerId), [status, partnerId]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [executionDate, setExecutionDate] = useState(formatDay(parisToday()));
  const [dateError, setDateError] = useState('');
  const [paying, setPaying] = useState<RefundRequest | null>(null);
  const [done, setDone] = useState('');
  const sepa = useSubmission();
  const all = list.value?.requests ?? [];
  /* The filter offers every partner owed and every partner of the requests read. */
  const names = new Map<string, string>((owed.value?.owed ?? []).map((p) => [p.partner_id, p.name]));
  for (const r of all) names.set(r.partner_id, r.partner_name);
  const months = [...new Set(all.map(monthOf))].sort().reverse();
  const shown = month ? all.filter((r) => monthOf(r) === month) : all;
  const chosen = shown.filter((r) => r.status === 'pending' && selected.has(r.request_id));
  const chosenTotal = chosen.reduce((a, r) => a + r.total_cents, 0);
  const pendingShown = shown.filter((r) => r.status === 'pending');

  function select(id: string, on: boolean) {
    setSelected((old) => {
      const next = new Set(old);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  }
  async function download() {
    const day = parseDay(executionDate);
    setDateError(day ? '' : R.dateInvalid);
    if (!day || chosen.length === 0) return;
    if (chosen.length > SEPA_MAX) {
      setDateError(R.sepaTooMany);
      return;
    }
    const file = await sepa.run(() => callForFile('post', '/api/v1/finance/sepa', { body: { request_ids: chosen.map((r) => r.request_id), execution_date: day } }));
    if (file) {
      saveFile(file.blob, file.filename);
      const text = R.sepaDone(chosen.length, formatCents(chosenTotal), file.filename);
      setDone(text);
      announce(text);
    }
  }
  const sepaErrors = errorsOf(sepa.error, ['execution_date']);
  const totalShown = shown.reduce((a, r) => a + r.total_cents, 0);
  return (
    <Page title={R.title} lead={R.lead} wide>
      {done && (
        <Notice kind="success" title={done} role="status" />
      )}
      {owed.error && <LoadError error={owed.error} retry={() => void owed.reload()} />}
      <Filters status={status} partner={partnerId} month={month} partners={names} months={months} />
      {list.loading && !list.value && <Loading />}
      {list.error && <LoadError error={list.error} retry={() => void list.reload()} />}
      {list.value && (
        <>
          <p class="totals" role="status" data-testid="refund-totals">
            {R.totals(shown.length, formatCents(totalShown))}
          </p>
          {list.value.truncated && <Notice kind="warning" title={R.truncated(formatCount(all.length))} />}
          {shown.length === 0 ? (
            <p>{R.none}</p>
          ) : (
            <div class="table-wrap">
              <table class="data responsive refunds-table">
                <caption class="visually-hidden">{R.caption}</caption>
                <thead>
                  <tr>
                    <th scope="col">
                      {pendingShown.length > 0 && (
                        <input
                          type="checkbox"
                          class="row-check"
                          aria-label={R.selectAll}
                          checked={pendingShown.every((r) => selected.has(r.request_id))}
                          onChange={(e) => {
                            const on = e.currentTarget.checked;
                            setSelected(on ? new Set(pendingShown.map((r) => r.request_id)) : new Set());
                          }}
                        />
                      )}
                    </th>
                    <th scope="col">{R.colPartner}</th>
                    <th scope="col">{R.colRequest}</th>
                    <th scope="col" class="amount">
                      {R.colPayments}
                    </th>
                    <th scope="col" class="amount">
                      {R.colAmount}
                    </th>
                    <th scope="col">{R.colStatus}</th>
                    <th scope="col">{R.colActions}</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((r) => (
                    <RequestRow
                      key={r.request_id}
                      request={r}
                      partner={r.partner_name}
                      selected={selected.has(r.request_id)}
                      onSelect={(on) => select(r.request_id, on)}
                      onPay={() => setPaying(r)}
                    />
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {pendingShown.length > 0 && (
            <section class="sepa-box" aria-labelledby="sepa-title">
              <h2 id="sepa-title">{R.sepa}</h2>
              <p data-testid="selection">{chosen.length > 0 ? R.selection(chosen.length, formatCents(chosenTotal)) : R.selectionNone}</p>
              {sepaErrors.general && (
                <Notice kind="error" title={sepaErrors.general} role="alert" />
              )}
              <TextField
                name="execution_date"
                label={R.executionDate}
                hint={R.executionDateHint}
                error={dateError || sepaErrors.byField.execution_date}
                value={executionDate}
                onValue={setExecutionDate}
                inputMode="numeric"
                class="input-short"
              />
              <button type="button" class="button" disabled={sepa.busy || chosen.length === 0} onClick={() => void download()}>
                {sepa.busy ? R.sepaBusy : R.sepa}
              </button>
            </section>
          )}
        </>
      )}
      {owed.value && <OwedTable owed={owed.value.owed} totals={owed.value.totals} complete={owed.value.complete} />}
      <MarkPaidDialog
        request={paying}
        partner={paying ? paying.partner_name : ''}
        onClose={() => setPaying(null)}
        onPaid={(r) => {
          const text = R.paidDone(r.partner_name, formatCents(r.total_cents));
          setPaying(null);
          setDone(text);
          announce(text);
          select(r.request_id, false);
          void list.reload();
          void owed.reload();
        }}
      />
    </Page>
  );
}

