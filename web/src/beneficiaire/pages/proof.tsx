/* proof.tsx - P11: the proof of a payment, what the beneficiary shows at the
 * desk: unmistakable success (a mark, a heading in words, a border), the
 * amount, the partner, the date and time, the operation reference and what
 * is left. Right after paying, and opened again from the history. */
import { useEffect, useState } from 'preact/hooks';
import { asApiError, type ApiError } from '../../shared/api';
import { formatCents, formatDateTime } from '../../shared/format';
import { LoadError, Loading, Notice, Page } from '../../shared/ui';
import { BASE, findOperation, partnerByCode, paymentsMade } from '../data';
import { budgetName, T } from '../strings.fr';

interface Proof {
  operationId: string;
  amountCents: number;
  partnerName: string;
  partnerCode: string;
  occurredAt: string;
  category: string;
  envelopeAfterCents: number | null;
  passAfterCents: number;
  cancelled: boolean;
  receipt: string | null;
}

async function loadProof(operationId: string): Promise<Proof | null> {
  const made = paymentsMade.get(operationId);
  if (made) {
    return {
      operationId, amountCents: made.amount_cents, partnerName: made.partner_name, partnerCode: made.partner_code,
      occurredAt: made.occurred_at, category: made.category, envelopeAfterCents: made.envelope_balance_after_cents,
      passAfterCents: made.pass_balance_after_cents, cancelled: false,
      receipt: made.receipt ?? null,
    };
  }
  const op = await findOperation(operationId);
  if (!op || op.kind !== 'payment' || !op.partner_code) return null;
  let partnerName = op.partner_code;
  try {
    partnerName = (await partnerByCode(op.partner_code)).public_name;
  } catch {
    // The code still names the partner.
  }
  return {
    operationId, amountCents: op.amount_cents, partnerName, partnerCode: op.partner_code, occurredAt: op.occurred_at,
    category: op.category, envelopeAfterCents: null, passAfterCents: op.pass_balance_after_cents, cancelled: op.status === 'cancelled',
    receipt: op.receipt ?? null,
  };
}

/** The signed receipt (docs/api.md, Payment receipts): its QR code, drawn by
 * the gateway for a receipt it verifies, and its text for a partner who types it. */
function Receipt(props: { text: string }) {
  return (
    <section class="receipt" aria-labelledby="receipt-title" data-testid="receipt">
      <h2 id="receipt-title">{T.proof.receiptTitle}</h2>
      <p>{T.proof.receiptLead}</p>
      <img class="receipt-qr" src={`/api/v1/receipts/qr.svg?r=${encodeURIComponent(props.text)}`} alt={T.proof.receiptQr} width={240} height={240} />
      <p class="receipt-label" id="receipt-text-label">{T.proof.receiptText}</p>
      <p class="receipt-text" aria-labelledby="receipt-text-label" data-testid="receipt-text">{props.text}</p>
    </section>
  );
}

export function ProofPage(props: { operationId: string }) {
  const [proof, setProof] = useState<Proof | null | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    loadProof(props.operationId).then(setProof, (e: unknown) => setError(asApiError(e)));
  }, [props.operationId, generation]);
  if (error) {
    return (
      <Page title={T.proof.title}>
        <LoadError error={error} retry={() => setGeneration((g) => g + 1)} />
      </Page>
    );
  }
  if (proof === undefined) {
    return (
      <Page title={T.proof.title}>
        <Loading />
      </Page>
    );
  }
  if (proof === null) {
    return (
      <Page title={T.proof.title}>
        <Notice kind="error" role="alert"><p>{T.proof.notFound}</p></Notice>
        <p><a href={`${BASE}/historique`}>{T.proof.history}</a></p>
      </Page>
    );
  }
  return (
    <Page title={proof.cancelled ? T.proof.cancelledTitle : T.proof.title}>
      <div class={proof.cancelled ? 'proof proof-cancelled' : 'proof'} data-testid="proof">
        <p class="proof-mark" aria-hidden="true">{proof.cancelled ? '✕' : '✓'}</p>
        <p class="proof-amount">{formatCents(proof.amountCents)}</p>
        <p class="proof-partner">{proof.partnerName}</p>
        {proof.cancelled ? <p class="proof-state">{T.proof.cancelled}</p> : <p class="proof-lead">{T.proof.lead}</p>}
        <dl class="facts">
          <dt>{T.proof.when}</dt>
          <dd>{formatDateTime(proof.occurredAt)}</dd>
          <dt>{T.proof.reference}</dt>
          <dd class="reference">{proof.operationId}</dd>
          <dt>{T.proof.envelope}</dt>
          <dd>{budgetName(proof.category)}</dd>
          {proof.envelopeAfterCents !== null && (
            <>
              <dt>{T.proof.envelopeAfter}</dt>
              <dd>{formatCents(proof.envelopeAfterCents)}</dd>
            </>
          )}
          <dt>{T.proof.passAfter}</dt>
          <dd>{formatCents(proof.passAfterCents)}</dd>
        </dl>
        {proof.receipt && !proof.cancelled && <Receipt text={proof.receipt} />}
      </div>
      <div class="button-row">
        <a class="button" href={BASE}>{T.proof.home}</a>
        <a href={`${BASE}/historique`}>{T.proof.history}</a>
      </div>
    </Page>
  );
}
