/* history.tsx - the pass's operations, newest first, a page at a time (the
 * API's cursor in the address, so Back returns to the page before); a
 * payment opens its proof again. */
import { call } from '../../shared/api';
import { formatCents, formatDateTime } from '../../shared/format';
import { LoadError, Loading, Page } from '../../shared/ui';
import { BASE, partnerByCode, useLoad } from '../data';
import { budgetName, T } from '../strings.fr';

const PAGE_SIZE = 20;

/** The public name of the partner paid (its code until it is known). */
function PartnerName(props: { code: string }) {
  const partner = useLoad(() => partnerByCode(props.code), [props.code]);
  return <>{partner.value?.public_name ?? props.code}</>;
}

export function HistoryPage(props: { cursor: string | null }) {
  const page = useLoad(() => call('get', '/api/v1/pass/operations', { query: { limit: PAGE_SIZE, cursor: props.cursor ?? undefined } }), [props.cursor]);
  return (
    <Page title={T.history.title} lead={T.history.lead}>
      {page.error && <LoadError error={page.error} retry={page.reload} />}
      {!page.value && !page.error && <Loading />}
      {page.value && page.value.operations.length === 0 && <p>{T.history.empty}</p>}
      {page.value && page.value.operations.length > 0 && (
        <ul class="operations">
          {page.value.operations.map((op) => {
            const payment = op.kind === 'payment';
            const cancelled = op.status === 'cancelled';
            const kind = payment && op.channel === 'voucher' ? T.history.viaVoucher : T.history.kind[op.kind] ?? op.kind;
            return (
              <li key={op.operation_id} class={`operation${cancelled ? ' operation-cancelled' : ''}`} data-operation-id={op.operation_id}>
                <p class="operation-head">
                  <span class="operation-kind">{kind}</span>
                  <span class="operation-amount">{payment || op.kind === 'expiry' ? '− ' : '+ '}{formatCents(op.amount_cents)}</span>
                </p>
                {op.partner_code && (
                  <p class="operation-partner">
                    <PartnerName code={op.partner_code} />
                  </p>
                )}
                <p class="operation-meta">
                  {formatDateTime(op.occurred_at)} · {T.history.budget(budgetName(op.category))}
                </p>
                {cancelled && <p class="operation-state">{T.history.cancelled}</p>}
                <p class="operation-meta">{T.history.balanceAfter(formatCents(op.pass_balance_after_cents))}</p>
                {payment && (
                  <a href={`${BASE}/paiement/${op.operation_id}`}>
                    {T.history.proof}
                    <span class="visually-hidden"> : {kind} de {formatCents(op.amount_cents)} du {formatDateTime(op.occurred_at)}</span>
                  </a>
                )}
              </li>
            );
          })}
        </ul>
      )}
      <div class="pager">
        {page.value?.next_cursor && (
          <a class="button button-secondary" href={`${BASE}/historique?curseur=${encodeURIComponent(page.value.next_cursor)}`}>
            {T.history.more}
          </a>
        )}
        {props.cursor && <a href={`${BASE}/historique`}>{T.history.first}</a>}
      </div>
    </Page>
  );
}
