/* receipt.tsx - "Vérifier un reçu": a beneficiary's payment receipt, scanned
 * or pasted, checked by the gateway against the ledger's published keys
 * (docs/api.md, Payment receipts). It says whether the signature holds and
 * which payment it is, whoever the payee: the phone that shows it is not
 * trusted, only the signature. */
import { useState } from 'preact/hooks';
import { call, type Answer } from '../../shared/api';
import { announce } from '../../shared/announce';
import { formatCents, formatDateTime } from '../../shared/format';
import { ErrorSummary, Field, Page, errorsOf, useSubmission } from '../../shared/ui';
import { T } from '../strings.fr';
import { cameraScanAvailable } from '../../shared/camera';
import { Scanner } from './voucher';

type Verification = Answer<'/api/v1/receipts/verify', 'post'>;

const RECEIPT_CHARS_MAX = 1024;

function receiptIn(raw: string): string | null {
  const text = raw.trim();
  return text.startsWith('SPR') ? text : null;
}

function Result(props: { result: Verification }) {
  const r = props.result;
  if (!r.valid) {
    return (
      <div class="notice notice-error" role="alert" data-testid="receipt-result" data-valid="false">
        <p class="notice-title">{T.receipt.invalidTitle}</p>
        <p>{(r.reason && T.receipt.reasons[r.reason]) ?? r.message}</p>
      </div>
    );
  }
  const cancelled = r.status === 'cancelled';
  return (
    <div class={cancelled ? 'notice notice-warning' : 'result'} role="status" data-testid="receipt-result" data-valid="true">
      <p class="notice-title">{T.receipt.validTitle}</p>
      <p>{T.receipt.validText}</p>
      <dl class="facts">
        <dt>{T.receipt.amount}</dt>
        <dd data-testid="receipt-amount">{formatCents(r.amount_cents ?? 0)}</dd>
        <dt>{T.receipt.when}</dt>
        <dd>{r.occurred_at ? formatDateTime(r.occurred_at) : ''}</dd>
        <dt>{T.receipt.partner}</dt>
        <dd data-testid="receipt-partner">{r.partner_name ?? T.receipt.unknownPartner}</dd>
        <dt>{T.receipt.reference}</dt>
        <dd class="reference">{r.operation_id}</dd>
        <dt>{T.receipt.passRef}</dt>
        <dd>{r.pass_ref}</dd>
        <dt>{T.receipt.status}</dt>
        <dd>{r.known ? (T.receipt.statusOf[r.status ?? ''] ?? r.status) : T.receipt.unknownOperation}</dd>
      </dl>
    </div>
  );
}

export function ReceiptPage() {
  const [typed, setTyped] = useState('');
  const [empty, setEmpty] = useState(false);
  const [scanning, setScanning] = useState(false);
  const [result, setResult] = useState<Verification | null>(null);
  const submission = useSubmission();
  const { byField, summary, general } = errorsOf(submission.error, ['receipt']);
  const fieldError = empty ? T.receipt.empty : byField.receipt;

  async function verify(text: string) {
    setResult(null);
    const done = await submission.run(() => call('post', '/api/v1/receipts/verify', { body: { receipt: text } }));
    if (done) {
      setResult(done);
      announce(done.valid ? T.receipt.announceValid(formatCents(done.amount_cents ?? 0), done.partner_name ?? T.receipt.unknownPartner) : T.receipt.announceInvalid);
    }
  }

  function submit(event: Event) {
    event.preventDefault();
    const text = typed.trim();
    if (text === '') {
      setEmpty(true);
      return;
    }
    void verify(text);
  }

  return (
    <Page title={T.receipt.title} lead={T.receipt.lead}>
      <ErrorSummary errors={empty ? [{ field: 'receipt', text: T.receipt.empty }] : summary} general={general} />
      <form onSubmit={submit} noValidate>
        <Field name="receipt" label={T.receipt.label} hint={T.receipt.hint} error={fieldError}>
          {({ id, describedBy, invalid }) => (
            <textarea
              id={id}
              name="receipt"
              rows={4}
              autoComplete="off"
              spellcheck={false}
              class="input-receipt"
              value={typed}
              maxLength={RECEIPT_CHARS_MAX}
              aria-describedby={describedBy}
              aria-invalid={invalid ? 'true' : undefined}
              onInput={(e) => {
                setTyped((e.currentTarget as HTMLTextAreaElement).value);
                setEmpty(false);
                submission.setError(null);
              }}
            />
          )}
        </Field>
        <div class="button-row">
          <button type="submit" class="button" disabled={submission.busy}>
            {submission.busy ? T.receipt.submitting : T.receipt.submit}
          </button>
          {cameraScanAvailable() && !scanning && (
            <button type="button" class="button button-secondary" onClick={() => setScanning(true)}>
              {T.receipt.scan}
            </button>
          )}
        </div>
      </form>
      {scanning && (
        <Scanner
          pick={receiptIn}
          help={T.receipt.scanHelp}
          onNumber={(text) => {
            setScanning(false);
            setTyped(text);
            announce(T.receipt.scanned);
            void verify(text);
          }}
          onClose={() => setScanning(false)}
        />
      )}
      {result && <Result result={result} />}
    </Page>
  );
}
