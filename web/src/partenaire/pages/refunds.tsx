/* refunds.tsx - P18 to P20: the partner's refund requests (manual and the
 * automatic ones of the 30th) with their status, one request in detail with
 * its payments, and the cancellation of a pending one, which puts all its
 * payments back in the operations list. */
import { useState } from 'preact/hooks';
import { call } from '../../shared/api';
import { announce } from '../../shared/announce';
import { messageFor } from '../../shared/errors.fr';
import { formatCents, formatCount, formatDate, formatDateTime, formatDay, formatMonth, formatTime } from '../../shared/format';
import { navigate, setQuery, usePlace } from '../../shared/router';
import { ConfirmDialog, ErrorSummary, LoadError, Loading, Notice, Page, SelectField, useSubmission } from '../../shared/ui';
import { BASE, channelLabel, refreshPartner, useLoad, type RefundRequest } from '../data';
import { T } from '../strings.fr';

const PAGE_SIZE = 25;

function kindText(request: RefundRequest): string {
  return request.kind === 'automatic' && request.period ? T.refunds.automatic(formatMonth(request.period)) : T.refunds.manual;
}

export function RefundsPage() {
  const place = usePlace();
  const status = place.query.get('status') ?? '';
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const list = useLoad(
    () =>
      call('get', '/api/v1/partner/refund-requests', {
        query: { status: (status || undefined) as RefundRequest['status'] | undefined, limit: PAGE_SIZE, cursor },
      }),
    [status, cursor],
  );
  const exportSubmission = useSubmission();

  async function startExport() {
    const filters = status ? { status: status as RefundRequest['status'] } : {};
    const answer = await exportSubmission.run((key) =>
      call('post', '/api/v1/partner/exports', { body: { kind: 'refund_requests', filters }, key }),
    );
    if (answer) navigate(`${BASE}/exports?nouveau=${answer.export_id}`);
  }

  const requests = list.value?.refund_requests ?? [];
  return (
    <Page title={T.refunds.title} lead={T.refunds.lead} wide>
      <Notice kind="info" title={T.refunds.autoTitle}>
        <p>{T.refunds.autoText}</p>
      </Notice>
      <p>
        <a href={`${BASE}/operations?status=accepted`}>{T.refunds.toOperations}</a>
      </p>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <SelectField
          name="status"
          label={T.refunds.statusFilter}
          value={status}
          onValue={(value) => {
            setCursors([]);
            setQuery({ status: value });
          }}
          options={[['', T.ops.any], ...Object.entries(T.refundStatus)] as Array<[string, string]>}
        />
      </form>
      {exportSubmission.error && <ErrorSummary errors={[]} general={messageFor(exportSubmission.error)} />}
      {list.loading && !list.value && <Loading />}
      {list.error && <LoadError error={list.error} retry={() => void list.reload()} />}
      {list.value && (
        <>
          <div class="toolbar">
            <p class="totals">
              {list.value.totals.count > 0
                ? T.refunds.totals(formatCount(list.value.totals.count), formatCents(list.value.totals.total_cents))
                : T.refunds.none}
            </p>
            <button type="button" class="button button-secondary" onClick={() => void startExport()} disabled={exportSubmission.busy}>
              {T.refunds.export}
            </button>
          </div>
          {requests.length > 0 && (
            <div class="table-wrap">
              <table class="data responsive">
                <caption class="visually-hidden">{T.refunds.caption}</caption>
                <thead>
                  <tr>
                    <th scope="col">{T.refunds.colDate}</th>
                    <th scope="col">{T.refunds.colKind}</th>
                    <th scope="col">{T.refunds.colStatus}</th>
                    <th scope="col" class="amount">
                      {T.refunds.colAmount}
                    </th>
                    <th scope="col">{T.refunds.colCount}</th>
                    <th scope="col">{T.refunds.colDetail}</th>
                  </tr>
                </thead>
                <tbody>
                  {requests.map((r) => (
                    <tr key={r.request_id}>
                      <td data-label={T.refunds.colDate}>{formatDateTime(r.created_at)}</td>
                      <td data-label={T.refunds.colKind}>{kindText(r)}</td>
                      <td data-label={T.refunds.colStatus}>
                        <span class={`tag tag-${r.status}`}>{T.refundStatus[r.status]}</span>
                        {r.status === 'paid' && r.paid_on && <span class="reason">{T.refunds.paidOn(formatDay(r.paid_on))}</span>}
                      </td>
                      <td data-label={T.refunds.colAmount} class="amount">
                        {formatCents(r.total_cents)}
                      </td>
                      <td data-label={T.refunds.colCount}>{formatCount(r.operation_count)}</td>
                      <td data-label={T.refunds.colDetail}>
                        <a href={`${BASE}/remboursements/${r.request_id}`}>
                          {T.refunds.see}
                          <span class="visually-hidden">{T.refunds.ofRequest(formatDate(r.created_at), formatCents(r.total_cents))}</span>
                        </a>
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
            {list.value.next_cursor && (
              <button type="button" class="button button-secondary" onClick={() => setCursors((c) => [...c, list.value!.next_cursor!])}>
                {T.ops.next}
              </button>
            )}
          </nav>
        </>
      )}
    </Page>
  );
}

export function RefundDetailPage(props: { requestId: string }) {
  const place = usePlace();
  const request = useLoad(
    () => call('get', '/api/v1/partner/refund-requests/{request_id}', { params: { request_id: props.requestId } }),
    [props.requestId],
  );
  const [confirming, setConfirming] = useState(false);
  const [cancelledNow, setCancelledNow] = useState(false);
  const submission = useSubmission();
  const r = request.value;

  async function cancel() {
    const answer = await submission.run((key) =>
      call('post', '/api/v1/partner/refund-requests/{request_id}/cancel', { params: { request_id: props.requestId }, key }),
    );
    if (answer) {
      setConfirming(false);
      setCancelledNow(true);
      announce(T.refunds.cancelledAnnounce);
      void refreshPartner();
      void request.reload();
    }
  }

  return (
    <Page title={T.refunds.detailTitle} wide>
      <p>
        <a href={`${BASE}/remboursements`}>{T.refunds.back}</a>
      </p>
      {place.query.has('nouvelle') && !cancelledNow && r && (
        <Notice kind="success" title={T.refunds.createdTitle} role="status">
          <p>{r.status === 'opening' ? T.refunds.createdOpening : T.refunds.createdText}</p>
        </Notice>
      )}
      {cancelledNow && (
        <Notice kind="success" title={T.refunds.cancelledTitle} role="status">
          <p>{T.refunds.cancelledText}</p>
          <p>
            <a href={`${BASE}/operations?status=accepted`}>{T.refunds.toOperations}</a>
          </p>
        </Notice>
      )}
      {request.loading && !r && <Loading />}
      {request.error && <LoadError error={request.error} retry={() => void request.reload()} />}
      {r && (
        <>
          <dl class="facts">
            <dt>{T.refunds.colStatus}</dt>
            <dd>
              <span class={`tag tag-${r.status}`}>{T.refundStatus[r.status]}</span>
            </dd>
            <dt>{T.refunds.colKind}</dt>
            <dd>{kindText(r)}</dd>
            <dt>{T.refunds.colDate}</dt>
            <dd>{formatDateTime(r.created_at)}</dd>
            <dt>{T.refunds.colAmount}</dt>
            <dd>
              <strong>{formatCents(r.total_cents)}</strong>
            </dd>
            <dt>{T.refunds.colCount}</dt>
            <dd>{formatCount(r.operation_count)}</dd>
            {r.paid_on && (
              <>
                <dt>{T.refunds.paidOnLabel}</dt>
                <dd>
                  {formatDay(r.paid_on)}
                  {r.transfer_reference ? ` · ${T.refunds.transfer(r.transfer_reference)}` : ''}
                </dd>
              </>
            )}
            {r.cancelled_at && (
              <>
                <dt>{T.refunds.cancelledOn}</dt>
                <dd>
                  {formatDateTime(r.cancelled_at)} · {r.cancel_reason === 'aborted' ? T.refunds.aborted : T.refunds.byPartner}
                </dd>
              </>
            )}
            {r.bank_account_missing && (
              <>
                <dt>{T.refunds.bank}</dt>
                <dd>
                  {T.refunds.bankMissing} <a href={`${BASE}/structure#f-iban`}>{T.refunds.bankLink}</a>
                </dd>
              </>
            )}
          </dl>
          {r.status === 'pending' && (
            <div class="button-row">
              <button type="button" class="button button-danger" onClick={() => setConfirming(true)}>
                {T.refunds.cancel}
              </button>
            </div>
          )}
          {r.status === 'opening' && <p class="muted">{T.refunds.openingNoCancel}</p>}
          <h2>{T.refunds.operationsTitle}</h2>
          <div class="table-wrap">
            <table class="data responsive">
              <caption class="visually-hidden">{T.refunds.operationsTitle}</caption>
              <thead>
                <tr>
                  <th scope="col">{T.ops.colDate}</th>
                  <th scope="col" class="amount">
                    {T.ops.colAmount}
                  </th>
                  <th scope="col">{T.ops.colChannel}</th>
                  <th scope="col">{T.ops.colStatus}</th>
                  <th scope="col">{T.ops.colPass}</th>
                  <th scope="col">{T.ops.colReference}</th>
                </tr>
              </thead>
              <tbody>
                {(r.operations ?? []).map((op) => (
                  <tr key={op.operation_id}>
                    <td data-label={T.ops.colDate}>
                      {formatDate(op.occurred_at)} {formatTime(op.occurred_at)}
                    </td>
                    <td data-label={T.ops.colAmount} class="amount">
                      {formatCents(op.amount_cents)}
                    </td>
                    <td data-label={T.ops.colChannel}>{channelLabel(op.channel)}</td>
                    <td data-label={T.ops.colStatus}>
                      <span class={`tag tag-${op.status}`}>{T.opStatus[op.status]}</span>
                    </td>
                    <td data-label={T.ops.colPass}>…{op.pass_ref}</td>
                    <td data-label={T.ops.colReference}>{op.reference || <span class="muted">{T.ops.none}</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <ConfirmDialog
        open={confirming}
        title={T.refunds.cancelTitle}
        confirm={T.refunds.cancelConfirm}
        cancel={T.refunds.cancelKeep}
        danger
        busy={submission.busy}
        onConfirm={() => void cancel()}
        onClose={() => {
          setConfirming(false);
          submission.setError(null);
        }}
      >
        {r && <p>{T.refunds.cancelQuestion(formatCount(r.operation_count), formatCents(r.total_cents))}</p>}
        <p>{T.refunds.cancelExplain}</p>
        {submission.error && (
          <p class="error-message" role="alert">
            {messageFor(submission.error)}
          </p>
        )}
      </ConfirmDialog>
    </Page>
  );
}
