/* operations.tsx - P11, P14 to P18: the partner's payments with their
 * filters (kept in the address), paging and totals; new payments live from
 * the SSE stream; the internal reference edited in place; cancel with a
 * confirmation; a refund request from a selection or from the filters; an
 * export of what the filters select. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, type Query } from '../../shared/api';
import { announce } from '../../shared/announce';
import { centsToInput, formatCents, formatCount, formatDate, formatDay, formatTime, parseDay, parseEuros } from '../../shared/format';
import { messageFor } from '../../shared/errors.fr';
import { navigate, setQuery, usePlace } from '../../shared/router';
import { useSession } from '../../shared/session';
import {
  ConfirmDialog,
  ErrorSummary,
  LoadError,
  Loading,
  Notice,
  Page,
  SelectField,
  TextField,
  useSubmission,
  type FieldError,
} from '../../shared/ui';
import { BASE, isAdmin, refreshPartner, useLoad, type Operation, type OperationsPage as OperationsList } from '../data';
import { T } from '../strings.fr';

const PAGE_SIZE = 25;
const FILTER_FIELDS = ['from', 'to', 'status', 'channel', 'amount_min_cents', 'amount_max_cents', 'q'] as const;
type FilterName = (typeof FILTER_FIELDS)[number];
type Filters = Record<FilterName, string>;
type OperationsQuery = NonNullable<Query<'/api/v1/partner/operations', 'get'>>;

function filtersFrom(query: URLSearchParams): Filters {
  const filters = {} as Filters;
  for (const name of FILTER_FIELDS) filters[name] = query.get(name) ?? '';
  return filters;
}

/** The API's filters from the address's (amounts are kept in cents there). */
export function apiFilters(filters: Filters): OperationsQuery {
  const query: OperationsQuery = {};
  if (filters.from) query.from = filters.from;
  if (filters.to) query.to = filters.to;
  if (filters.status) query.status = filters.status as OperationsQuery['status'];
  if (filters.channel) query.channel = filters.channel as OperationsQuery['channel'];
  if (filters.amount_min_cents) query.amount_min_cents = Number(filters.amount_min_cents);
  if (filters.amount_max_cents) query.amount_max_cents = Number(filters.amount_max_cents);
  if (filters.q) query.q = filters.q;
  return query;
}

function FilterForm(props: { filters: Filters; apiError: FieldError | null; onApply: (filters: Filters) => void }) {
  const [draft, setDraft] = useState(() => ({
    ...props.filters,
    from: props.filters.from ? formatDay(props.filters.from) : '',
    to: props.filters.to ? formatDay(props.filters.to) : '',
    amount_min_cents: props.filters.amount_min_cents ? centsToInput(Number(props.filters.amount_min_cents)) : '',
    amount_max_cents: props.filters.amount_max_cents ? centsToInput(Number(props.filters.amount_max_cents)) : '',
  }));
  const [errors, setErrors] = useState<FieldError[]>([]);
  const set = (name: FilterName) => (value: string) => setDraft((d) => ({ ...d, [name]: value }));
  const shown = errors.length ? errors : props.apiError ? [props.apiError] : [];
  const errorOf = (name: string) => shown.find((e) => e.field === name)?.text;

  function apply(event: Event) {
    event.preventDefault();
    const problems: FieldError[] = [];
    const min = draft.amount_min_cents.trim() ? parseEuros(draft.amount_min_cents) : null;
    const max = draft.amount_max_cents.trim() ? parseEuros(draft.amount_max_cents) : null;
    if (draft.amount_min_cents.trim() && min === null) problems.push({ field: 'amount_min_cents', text: T.ops.badAmount });
    if (draft.amount_max_cents.trim() && max === null) problems.push({ field: 'amount_max_cents', text: T.ops.badAmount });
    if (min !== null && max !== null && min > max) problems.push({ field: 'amount_max_cents', text: T.ops.minAboveMax });
    const from = draft.from.trim() ? parseDay(draft.from) : '';
    const to = draft.to.trim() ? parseDay(draft.to) : '';
    if (from === null) problems.push({ field: 'from', text: T.ops.badDay });
    if (to === null) problems.push({ field: 'to', text: T.ops.badDay });
    if (from && to && from > to) problems.push({ field: 'to', text: T.ops.fromAfterTo });
    setErrors(problems);
    if (problems.length) return;
    props.onApply({
      ...draft,
      from: from ?? '',
      to: to ?? '',
      q: draft.q.trim(),
      amount_min_cents: min === null ? '' : String(min),
      amount_max_cents: max === null ? '' : String(max),
    });
  }

  function clear() {
    const empty = Object.fromEntries(FILTER_FIELDS.map((n) => [n, ''])) as Filters;
    setDraft(empty);
    setErrors([]);
    props.onApply(empty);
  }

  const active = FILTER_FIELDS.filter((n) => props.filters[n]).length;
  // Open on a desk's screen; on a phone the list comes first.
  const [open] = useState(() => active > 0 || window.matchMedia('(min-width: 40rem)').matches);
  return (
    <details class="filters" open={open}>
      <summary id="filters-title">{active ? T.ops.filtersActive(active) : T.ops.filtersTitle}</summary>
    <form onSubmit={apply} noValidate aria-labelledby="filters-title">
      <ErrorSummary errors={errors} />
      <div class="filters-grid">
        <TextField name="from" label={T.ops.from} hint={T.ops.dayHint} inputMode="numeric" value={draft.from} onValue={set('from')} error={errorOf('from')} />
        <TextField name="to" label={T.ops.to} hint={T.ops.dayHint} inputMode="numeric" value={draft.to} onValue={set('to')} error={errorOf('to')} />
        <SelectField
          name="status"
          label={T.ops.status}
          value={draft.status}
          onValue={set('status')}
          error={errorOf('status')}
          options={[['', T.ops.any], ...Object.entries(T.opStatus)] as Array<[string, string]>}
        />
        <SelectField
          name="channel"
          label={T.ops.channel}
          value={draft.channel}
          onValue={set('channel')}
          error={errorOf('channel')}
          options={[['', T.ops.any], ...Object.entries(T.channel)] as Array<[string, string]>}
        />
        <TextField
          name="amount_min_cents"
          label={T.ops.amountMin}
          inputMode="decimal"
          value={draft.amount_min_cents}
          onValue={set('amount_min_cents')}
          error={errorOf('amount_min_cents')}
        />
        <TextField
          name="amount_max_cents"
          label={T.ops.amountMax}
          inputMode="decimal"
          value={draft.amount_max_cents}
          onValue={set('amount_max_cents')}
          error={errorOf('amount_max_cents')}
        />
        <TextField name="q" type="search" label={T.ops.text} hint={T.ops.textHint} value={draft.q} onValue={set('q')} error={errorOf('q')} maxLength={100} />
      </div>
      <div class="button-row">
        <button type="submit" class="button">
          {T.ops.apply}
        </button>
        <button type="button" class="button button-secondary" onClick={clear}>
          {T.ops.clear}
        </button>
      </div>
    </form>
    </details>
  );
}

function ReferenceCell(props: { op: Operation; onSaved: (reference: string) => void }) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(props.op.reference);
  const submission = useSubmission();
  const input = useRef<HTMLInputElement>(null);
  const editButton = useRef<HTMLButtonElement>(null);
  const inputId = `ref-${props.op.operation_id}`;
  useEffect(() => {
    if (editing) input.current?.focus();
  }, [editing]);

  async function save(event: Event) {
    event.preventDefault();
    const done = await submission.run((key) =>
      call('put', '/api/v1/partner/operations/{operation_id}/reference', {
        params: { operation_id: props.op.operation_id },
        body: { reference: value.trim() },
        key,
      }),
    );
    if (done) {
      props.onSaved(done.reference);
      setEditing(false);
      announce(T.ops.referenceSaved);
      window.setTimeout(() => editButton.current?.focus(), 0);
    }
  }

  if (props.op.status === 'cancelled' && !props.op.reference) return <span class="muted">{T.ops.none}</span>;
  if (!editing) {
    return (
      <div class="reference-edit">
        <span>{props.op.reference || <span class="muted">{T.ops.none}</span>}</span>
        {props.op.status !== 'cancelled' && (
          <button
            type="button"
            class="button-link"
            ref={editButton}
            onClick={() => {
              setValue(props.op.reference);
              setEditing(true);
            }}
          >
            {props.op.reference ? T.ops.editReference : T.ops.addReference}
            <span class="visually-hidden">{T.ops.ofOperation(formatCents(props.op.amount_cents), formatDate(props.op.occurred_at))}</span>
          </button>
        )}
      </div>
    );
  }
  const error = submission.error ? messageFor(submission.error, { 'invalid_value:reference': T.ops.referenceInvalid }) : null;
  return (
    <form class="reference-edit" onSubmit={save} noValidate>
      <label class="visually-hidden" for={inputId}>
        {T.ops.referenceLabel(formatCents(props.op.amount_cents), formatDate(props.op.occurred_at))}
      </label>
      <input
        id={inputId}
        ref={input}
        type="text"
        maxLength={100}
        value={value}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={error ? `${inputId}-error` : undefined}
        onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            setEditing(false);
            window.setTimeout(() => editButton.current?.focus(), 0);
          }
        }}
      />
      <button type="submit" class="button button-small" disabled={submission.busy}>
        {T.ops.save}
      </button>
      <button type="button" class="button button-small button-secondary" onClick={() => setEditing(false)}>
        {T.common.cancel}
      </button>
      {error && (
        <p class="error-message" id={`${inputId}-error`}>
          <span class="visually-hidden">Erreur : </span>
          {error}
        </p>
      )}
    </form>
  );
}

function CancelCell(props: { op: Operation; admin: boolean; onCancel: () => void }) {
  const op = props.op;
  if (op.status === 'cancelled') return <span class="muted">{T.ops.alreadyCancelled}</span>;
  const label = (
    <>
      {T.ops.cancel}
      <span class="visually-hidden">{T.ops.ofOperation(formatCents(op.amount_cents), formatDate(op.occurred_at))}</span>
    </>
  );
  if (op.cancellable) {
    return (
      <button type="button" class="button button-small button-secondary" onClick={props.onCancel}>
        {label}
      </button>
    );
  }
  const reasonId = `why-${op.operation_id}`;
  return (
    <>
      <button type="button" class="button button-small" disabled aria-describedby={reasonId}>
        {label}
      </button>
      <span class="reason" id={reasonId}>
        {op.cancellable_reason === 'operation_in_refund_request' ? (
          <>
            {T.ops.inRequest}{' '}
            {props.admin && op.refund_request_id ? <a href={`${BASE}/remboursements/${op.refund_request_id}`}>{T.ops.seeRequest}</a> : T.ops.askAdmin}
          </>
        ) : op.cancellable_reason === 'operation_paid' ? (
          T.ops.paidNoCancel
        ) : (
          T.ops.cannotCancel
        )}
      </span>
    </>
  );
}

interface LiveNews {
  count: number;
  last: Operation;
}

/** The live stream of new payments (EventSource, with the session cookie). */
function useLiveOperations(onOperation: (op: Operation) => void): 'connecting' | 'live' | 'interrupted' {
  const [state, setState] = useState<'connecting' | 'live' | 'interrupted'>('connecting');
  const handler = useRef(onOperation);
  handler.current = onOperation;
  useEffect(() => {
    if (typeof EventSource === 'undefined') {
      setState('interrupted');
      return undefined;
    }
    let source: EventSource | null = null;
    let retry = 0;
    let closed = false;
    const open = () => {
      source = new EventSource('/api/v1/partner/operations/stream');
      source.onopen = () => setState('live');
      source.addEventListener('operation', (event) => {
        try {
          handler.current(JSON.parse((event as MessageEvent<string>).data) as Operation);
        } catch {
          // An event we cannot read is skipped; the list is read again anyway.
        }
      });
      source.onerror = () => {
        if (!source || source.readyState !== EventSource.CLOSED) return;
        // The browser gave up (the stream was refused): try again later;
        // if the session has ended, reading it sends the page to the login.
        setState('interrupted');
        void call('get', '/api/v1/me').catch(() => undefined);
        if (!closed) retry = window.setTimeout(open, 5000);
      };
    };
    open();
    return () => {
      closed = true;
      window.clearTimeout(retry);
      source?.close();
    };
  }, []);
  return state;
}

/** The stream's state line, in a component of its own so that its changes
 * do not render the whole list again. */
function LiveStatus(props: { onOperation: (op: Operation) => void }) {
  const live = useLiveOperations(props.onOperation);
  return (
    <p class="live-status" data-testid="live-status">
      {live === 'live' ? T.ops.liveOn : live === 'connecting' ? T.ops.liveConnecting : T.ops.liveOff}
    </p>
  );
}

/** The query of the first page an address asks for. */
export function firstPageQuery(search: string): OperationsQuery & { limit: number } {
  return { ...apiFilters(filtersFrom(new URLSearchParams(search))), limit: PAGE_SIZE };
}

let prefetched: { search: string; page: Promise<OperationsList> } | null = null;

/** Asks for the first page while the session is still being read, when the
 * app opens on this screen (one round trip and a render earlier). */
export function prefetchOperations(search: string): void {
  const page = call('get', '/api/v1/partner/operations', { query: firstPageQuery(search) });
  // Refused (not logged in yet): the page will ask again once it is shown.
  page.catch(() => {
    if (prefetched?.page === page) prefetched = null;
  });
  prefetched = { search, page };
}

function firstPage(search: string): Promise<OperationsList> | null {
  const found = prefetched && prefetched.search === search ? prefetched.page : null;
  prefetched = null;
  return found;
}

export function OperationsPage() {
  const { me } = useSession();
  const admin = isAdmin(me);
  const place = usePlace();
  const filters = filtersFrom(place.query);
  const filterKey = FILTER_FIELDS.map((n) => filters[n]).join('|');
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const list = useLoad(
    () =>
      (!cursor && firstPage(window.location.search)) ||
      call('get', '/api/v1/partner/operations', { query: { ...apiFilters(filters), limit: PAGE_SIZE, cursor } }),
    [filterKey, cursor],
  );
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [news, setNews] = useState<LiveNews | null>(null);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [toCancel, setToCancel] = useState<Operation | null>(null);
  const [refund, setRefund] = useState<{ all: boolean; count: number; cents: number } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const cancelSubmission = useSubmission();
  const refundSubmission = useSubmission();
  const exportSubmission = useSubmission();
  const known = useRef(new Set<string>());
  for (const op of list.value?.operations ?? []) known.current.add(op.operation_id);

  const onLive = (op: Operation) => {
    if (known.current.has(op.operation_id)) return;
    known.current.add(op.operation_id);
    setNews((n) => ({ count: (n?.count ?? 0) + 1, last: op }));
    setFresh((f) => new Set(f).add(op.operation_id));
    announce(T.ops.liveAnnounce(formatCents(op.amount_cents), T.channel[op.channel]));
    void refreshPartner();
    if (cursors.length === 0) void list.reload();
  };

  useEffect(() => setSelected(new Set()), [filterKey]);

  function applyFilters(next: Filters) {
    setCursors([]);
    setQuery(next);
  }

  const apiError = list.error && FILTER_FIELDS.includes(list.error.field as FilterName) ? { field: list.error.field, text: messageFor(list.error) } : null;
  const operations = list.value?.operations ?? [];
  const selectable = operations.filter((op) => op.status === 'accepted');
  const selectedOps = operations.filter((op) => selected.has(op.operation_id));
  const selectedCents = selectedOps.reduce((sum, op) => sum + op.amount_cents, 0);

  function toggle(id: string, on: boolean) {
    setSelected((current) => {
      const next = new Set(current);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  }

  async function confirmCancel() {
    const op = toCancel;
    if (!op) return;
    const answer = await cancelSubmission.run((key) =>
      call('post', '/api/v1/partner/operations/{operation_id}/cancel', { params: { operation_id: op.operation_id }, key }),
    );
    if (answer) {
      setToCancel(null);
      const text = T.ops.cancelled(formatCents(op.amount_cents));
      setDone(text);
      announce(text);
      void refreshPartner();
      void list.reload();
    }
  }

  async function openRefund(all: boolean) {
    refundSubmission.setError(null);
    if (!all) {
      setRefund({ all, count: selectedOps.length, cents: selectedCents });
      return;
    }
    // What "all" would take: the accepted payments the filters select.
    const { status: _ignored, ...rest } = apiFilters(filters);
    try {
      const page = await call('get', '/api/v1/partner/operations', { query: { ...rest, status: 'accepted', limit: 1 } });
      setRefund({ all, count: page.totals.count, cents: page.totals.amount_cents });
    } catch {
      setRefund({ all, count: -1, cents: -1 });
    }
  }

  async function confirmRefund() {
    if (!refund) return;
    const { status: _ignored, ...rest } = apiFilters(filters);
    const body = refund.all ? { all: true as const, ...rest } : { operation_ids: selectedOps.map((op) => op.operation_id) };
    const answer = await refundSubmission.run((key) => call('post', '/api/v1/partner/refund-requests', { body, key }));
    if (answer) {
      setRefund(null);
      setSelected(new Set());
      announce(T.ops.refundRequested);
      navigate(`${BASE}/remboursements/${answer.request_id}?nouvelle=1`);
    }
  }

  async function startExport() {
    const answer = await exportSubmission.run((key) =>
      call('post', '/api/v1/partner/exports', { body: { kind: 'operations', filters: apiFilters(filters) }, key }),
    );
    if (answer) navigate(`${BASE}/exports?nouveau=${answer.export_id}`);
  }

  const totals = list.value?.totals;
  return (
    <Page title={T.ops.title} lead={T.ops.lead} wide>
      <FilterForm key={filterKey} filters={filters} apiError={apiError} onApply={applyFilters} />
      {news && (
        <div class="live-notice" role="status" data-testid="live-notice">
          <span>{T.ops.liveNotice(news.count, formatCents(news.last.amount_cents), formatTime(news.last.occurred_at), T.channel[news.last.channel])}</span>
          {cursors.length > 0 && (
            <button type="button" class="button button-small" onClick={() => setCursors([])}>
              {T.ops.showNewest}
            </button>
          )}
        </div>
      )}
      <LiveStatus onOperation={onLive} />
      {done && (
        <Notice kind="success" title={done} role="status">
          <p>{T.ops.cancelledText}</p>
        </Notice>
      )}
      {exportSubmission.error && <ErrorSummary errors={[]} general={messageFor(exportSubmission.error)} />}
      {list.loading && !list.value && <Loading />}
      {list.error && !apiError && <LoadError error={list.error} retry={() => void list.reload()} />}
      {list.value && (
        <>
          <div class="toolbar">
            <p class="totals" data-testid="totals">
              {totals && totals.count > 0 ? T.ops.totals(formatCount(totals.count), formatCents(totals.amount_cents)) : T.ops.noneFound}
            </p>
            <button type="button" class="button button-secondary" onClick={() => void startExport()} disabled={exportSubmission.busy}>
              {T.ops.export}
            </button>
          </div>
          {admin && totals && totals.count > 0 && (
            <div class="button-row" aria-label={T.ops.refundActions} role="group">
              <button type="button" class="button" disabled={selectedOps.length === 0} onClick={() => void openRefund(false)}>
                {selectedOps.length ? T.ops.refundSelected(selectedOps.length, formatCents(selectedCents)) : T.ops.refundSelectedNone}
              </button>
              <button type="button" class="button button-secondary" onClick={() => void openRefund(true)}>
                {T.ops.refundAll}
              </button>
            </div>
          )}
          {operations.length > 0 && (
            <div class="table-wrap">
              <table class="data responsive" aria-describedby="filters-title">
                <caption class="visually-hidden">{T.ops.caption}</caption>
                <thead>
                  <tr>
                    {admin && (
                      <th scope="col">
                        <span class="checkbox">
                          <input
                            type="checkbox"
                            id="select-page"
                            checked={selectable.length > 0 && selectable.every((op) => selected.has(op.operation_id))}
                            disabled={selectable.length === 0}
                            onChange={(e) => {
                              const on = (e.currentTarget as HTMLInputElement).checked;
                              setSelected(on ? new Set(selectable.map((op) => op.operation_id)) : new Set());
                            }}
                          />
                          <label for="select-page">
                            <span class="visually-hidden">{T.ops.selectPage}</span>
                          </label>
                        </span>
                      </th>
                    )}
                    <th scope="col">{T.ops.colDate}</th>
                    <th scope="col" class="amount">
                      {T.ops.colAmount}
                    </th>
                    <th scope="col">{T.ops.colChannel}</th>
                    <th scope="col">{T.ops.colStatus}</th>
                    <th scope="col">{T.ops.colPass}</th>
                    <th scope="col">{T.ops.colReference}</th>
                    <th scope="col">{T.ops.colActions}</th>
                  </tr>
                </thead>
                <tbody>
                  {operations.map((op) => (
                    <tr key={op.operation_id} class={fresh.has(op.operation_id) ? 'row-new' : undefined} data-operation-id={op.operation_id}>
                      {admin && (
                        <td data-label={T.ops.colSelect}>
                          {op.status === 'accepted' ? (
                            <span class="checkbox">
                              <input
                                type="checkbox"
                                id={`sel-${op.operation_id}`}
                                checked={selected.has(op.operation_id)}
                                onChange={(e) => toggle(op.operation_id, (e.currentTarget as HTMLInputElement).checked)}
                              />
                              <label for={`sel-${op.operation_id}`}>
                                <span class="visually-hidden">{T.ops.selectOne(formatCents(op.amount_cents), formatDate(op.occurred_at))}</span>
                              </label>
                            </span>
                          ) : (
                            <span class="muted">–</span>
                          )}
                        </td>
                      )}
                      <td data-label={T.ops.colDate}>
                        {formatDate(op.occurred_at)} {formatTime(op.occurred_at)}
                        {fresh.has(op.operation_id) && (
                          <>
                            {' '}
                            <span class="tag tag-new">{T.ops.newTag}</span>
                          </>
                        )}
                      </td>
                      <td data-label={T.ops.colAmount} class="amount">
                        {formatCents(op.amount_cents)}
                      </td>
                      <td data-label={T.ops.colChannel}>{T.channel[op.channel]}</td>
                      <td data-label={T.ops.colStatus}>
                        <span class={`tag tag-${op.status}`}>{T.opStatus[op.status]}</span>
                      </td>
                      <td data-label={T.ops.colPass} class="nowrap">…{op.pass_ref}</td>
                      <td data-label={T.ops.colReference}>
                        <ReferenceCell
                          op={op}
                          onSaved={(reference) => {
                            if (list.value) {
                              list.setValue({
                                ...list.value,
                                operations: list.value.operations.map((o) => (o.operation_id === op.operation_id ? { ...o, reference } : o)),
                              });
                            }
                          }}
                        />
                      </td>
                      <td data-label={T.ops.colActions} class="actions">
                        <CancelCell op={op} admin={admin} onCancel={() => setToCancel(op)} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <nav class="pager" aria-label={T.ops.pager}>
            {cursors.length > 0 && (
              <button type="button" class="button button-secondary" onClick={() => setCursors((c) => c.slice(0, -1))}>
                {T.ops.previous}
              </button>
            )}
            {cursors.length > 0 && <span>{T.ops.pageNumber(cursors.length + 1)}</span>}
            {list.value.next_cursor && (
              <button type="button" class="button button-secondary" onClick={() => setCursors((c) => [...c, list.value!.next_cursor!])}>
                {T.ops.next}
              </button>
            )}
          </nav>
        </>
      )}
      <ConfirmDialog
        open={toCancel !== null}
        title={T.ops.cancelTitle}
        confirm={T.ops.cancelConfirm}
        cancel={T.ops.cancelKeep}
        danger
        busy={cancelSubmission.busy}
        onConfirm={() => void confirmCancel()}
        onClose={() => {
          setToCancel(null);
          cancelSubmission.setError(null);
        }}
      >
        {toCancel && (
          <>
            <p>{T.ops.cancelQuestion(formatCents(toCancel.amount_cents), formatDate(toCancel.occurred_at), formatTime(toCancel.occurred_at))}</p>
            <p>{T.ops.cancelExplain}</p>
          </>
        )}
        {cancelSubmission.error && (
          <p class="error-message" role="alert">
            {messageFor(cancelSubmission.error)}
          </p>
        )}
      </ConfirmDialog>
      <ConfirmDialog
        open={refund !== null}
        title={T.ops.refundTitle}
        confirm={T.ops.refundConfirm}
        cancel={T.common.cancel}
        busy={refundSubmission.busy}
        onConfirm={() => void confirmRefund()}
        onClose={() => {
          setRefund(null);
          refundSubmission.setError(null);
        }}
      >
        {refund && (
          <p>
            {refund.count < 0
              ? T.ops.refundQuestionUnknown
              : T.ops.refundQuestion(formatCount(refund.count), formatCents(refund.cents), refund.all)}
          </p>
        )}
        <p>{T.ops.refundExplain}</p>
        {refundSubmission.error && (
          <p class="error-message" role="alert">
            {messageFor(refundSubmission.error)}
          </p>
        )}
      </ConfirmDialog>
    </Page>
  );
}
