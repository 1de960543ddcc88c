/* exports.tsx - P22: the partner's exports, made from Operations or Refunds
 * with their filters; the list follows a pending export until it is ready
 * (read again every 1.5 s while one is pending), then downloads or deletes. */
import { useEffect, useState } from 'preact/hooks';
import { call } from '../../shared/api';
import { announce } from '../../shared/announce';
import { messageFor } from '../../shared/errors.fr';
import { formatBytes, formatCents, formatCount, formatDateTime, formatDay } from '../../shared/format';
import { usePlace } from '../../shared/router';
import { LoadError, Loading, Notice, Page, useSubmission } from '../../shared/ui';
import { BASE, useLoad, type Export } from '../data';
import { T } from '../strings.fr';

const POLL_MS = 1500;

function filtersText(item: Export): string {
  const f = (item.filters ?? {}) as Record<string, string | number | undefined>;
  const parts: string[] = [];
  if (f.from) parts.push(T.exports.fFrom(formatDay(String(f.from))));
  if (f.to) parts.push(T.exports.fTo(formatDay(String(f.to))));
  if (f.status) {
    const labels: Record<string, string> = item.kind === 'refund_requests' ? T.refundStatus : T.opStatus;
    parts.push(T.exports.fStatus(labels[String(f.status)] ?? String(f.status)));
  }
  if (f.channel) parts.push(T.channel[f.channel as keyof typeof T.channel] ?? String(f.channel));
  if (f.kind) parts.push(f.kind === 'automatic' ? T.exports.fAutomatic : T.exports.fManual);
  if (f.amount_min_cents !== undefined) parts.push(T.exports.fMin(formatCents(Number(f.amount_min_cents))));
  if (f.amount_max_cents !== undefined) parts.push(T.exports.fMax(formatCents(Number(f.amount_max_cents))));
  if (f.reference !== undefined) parts.push(T.exports.fReference(String(f.reference)));
  if (f.q) parts.push(T.exports.fText(String(f.q)));
  return parts.length ? parts.join(' · ') : T.exports.noFilter;
}

function ExportRow(props: { item: Export; onDeleted: () => void }) {
  const item = props.item;
  const submission = useSubmission();
  async function remove() {
    const done = await submission.run(async (key) => {
      await call('delete', '/api/v1/partner/exports/{export_id}', { params: { export_id: item.export_id }, key });
      return true;
    });
    if (done) {
      announce(T.exports.deleted);
      props.onDeleted();
    }
  }
  const label = item.kind === 'operations' ? T.exports.kindOperations : T.exports.kindRefunds;
  return (
    <tr data-export-id={item.export_id}>
      <td data-label={T.exports.colDate}>{formatDateTime(item.requested_at)}</td>
      <td data-label={T.exports.colKind}>
        <strong>{label}</strong>
        <span class="reason">{filtersText(item)}</span>
      </td>
      <td data-label={T.exports.colBy}>{item.requested_by.full_name}</td>
      <td data-label={T.exports.colStatus}>
        <span class={`tag tag-${item.status}`} data-testid="export-status">
          {T.exportStatus[item.status]}
        </span>
        {item.status === 'ready' && item.row_count !== null && item.size_bytes !== null && (
          <span class="reason">{T.exports.rows(formatCount(item.row_count), formatBytes(item.size_bytes))}</span>
        )}
        {item.status === 'failed' && <span class="reason">{T.exports.failed}</span>}
        {item.status === 'ready' && <span class="reason">{T.exports.until(formatDateTime(item.expires_at))}</span>}
      </td>
      <td data-label={T.exports.colActions}>
        <div class="button-row">
          {item.status === 'ready' && (
            <a class="button button-small" href={`/api/v1/partner/exports/${item.export_id}/download`} download>
              {T.exports.download}
              <span class="visually-hidden">{T.exports.ofExport(label, formatDateTime(item.requested_at))}</span>
            </a>
          )}
          {item.status !== 'expired' && (
            <button type="button" class="button button-small button-secondary" disabled={submission.busy} onClick={() => void remove()}>
              {T.exports.delete}
              <span class="visually-hidden">{T.exports.ofExport(label, formatDateTime(item.requested_at))}</span>
            </button>
          )}
        </div>
        {submission.error && <p class="error-message">{messageFor(submission.error)}</p>}
      </td>
    </tr>
  );
}

export function ExportsPage() {
  const place = usePlace();
  const fresh = place.query.get('nouveau');
  const list = useLoad(() => call('get', '/api/v1/partner/exports', { query: { limit: 50 } }), []);
  const [readyAnnounced, setReadyAnnounced] = useState(false);
  const items = list.value?.exports ?? [];
  const pending = items.some((e) => e.status === 'pending');
  useEffect(() => {
    if (!pending) return undefined;
    const timer = window.setTimeout(() => void list.reload(), POLL_MS);
    return () => window.clearTimeout(timer);
  }, [list.value]);
  const freshItem = items.find((e) => e.export_id === fresh);
  useEffect(() => {
    if (freshItem?.status === 'ready' && !readyAnnounced) {
      setReadyAnnounced(true);
      announce(T.exports.readyAnnounce);
    }
  }, [freshItem?.status]);
  return (
    <Page title={T.exports.title} lead={T.exports.lead} wide>
      {freshItem && (
        <Notice kind={freshItem.status === 'failed' ? 'error' : 'success'} title={freshItem.status === 'ready' ? T.exports.readyTitle : freshItem.status === 'failed' ? T.exports.failed : T.exports.pendingTitle} role="status" />
      )}
      <p>
        <a href={`${BASE}/operations`}>{T.exports.fromOperations}</a>
        {' · '}
        <a href={`${BASE}/remboursements`}>{T.exports.fromRefunds}</a>
      </p>
      {list.loading && !list.value && <Loading />}
      {list.error && <LoadError error={list.error} retry={() => void list.reload()} />}
      {list.value && items.length === 0 && <p>{T.exports.none}</p>}
      {items.length > 0 && (
        <div class="table-wrap">
          <table class="data responsive">
            <caption class="visually-hidden">{T.exports.title}</caption>
            <thead>
              <tr>
                <th scope="col">{T.exports.colDate}</th>
                <th scope="col">{T.exports.colKind}</th>
                <th scope="col">{T.exports.colBy}</th>
                <th scope="col">{T.exports.colStatus}</th>
                <th scope="col">{T.exports.colActions}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <ExportRow key={item.export_id} item={item} onDeleted={() => void list.reload()} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
