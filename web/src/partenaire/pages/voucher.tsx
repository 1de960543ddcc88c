/* voucher.tsx - P13: redeem an exchange voucher. The number is checked as it
 * is typed (Damm check digit, as the server does) and nothing is sent while
 * it is wrong; where the browser offers BarcodeDetector and a camera, the QR
 * code of the voucher can be scanned instead. */
import { useState } from 'preact/hooks';
import { call, type Answer } from '../../shared/api';
import { announce } from '../../shared/announce';
import { cameraScanAvailable, useCameraScan } from '../../shared/camera';
import { checkVoucherNumber, voucherDigits, VOUCHER_DIGITS } from '../../shared/checks';
import { formatCents, formatDateTime, groupDigits } from '../../shared/format';
import { ErrorSummary, Field, errorsOf, useSubmission, type FieldError } from '../../shared/ui';
import { BASE, categoryLabel, refreshPartner } from '../data';
import { T } from '../strings.fr';

type Redeemed = Answer<'/api/v1/partner/vouchers/redeem', 'post'>;

function localProblem(typed: string): string | null {
  switch (checkVoucherNumber(typed)) {
    case 'not_digits':
      return T.voucher.notDigits;
    case 'too_long':
      return T.voucher.tooLong;
    case 'invalid':
      return T.voucher.badCheckDigit;
    default:
      return null;
  }
}

/** Keeps what is typed readable: digits in groups of four. */
function regroup(typed: string): string {
  const digits = voucherDigits(typed);
  return digits === null ? typed : groupDigits(digits);
}

/** A voucher number's digits in a scanned text, or null. */
function voucherIn(raw: string): string | null {
  const digits = voucherDigits(raw);
  return digits && digits.length === VOUCHER_DIGITS ? digits : null;
}

/** The camera scan: calls onNumber with the first code `pick` accepts
 * (a voucher number by default; the receipt screen picks receipts). */
export function Scanner(props: { onNumber: (value: string) => void; onClose: () => void; pick?: (raw: string) => string | null; help?: string }) {
  const [problem, setProblem] = useState<string | null>(null);
  const video = useCameraScan({
    pick: props.pick ?? voucherIn,
    found: props.onNumber,
    refused: () => setProblem(T.voucher.cameraRefused),
  });
  return (
    <div class="card">
      <p>{props.help ?? T.voucher.scanHelp}</p>
      {problem ? <p class="error-message">{problem}</p> : <video ref={video} class="scan-video" muted playsInline aria-label={T.voucher.scanVideo} />}
      <div class="button-row">
        <button type="button" class="button button-secondary" onClick={props.onClose}>
          {T.voucher.scanStop}
        </button>
      </div>
    </div>
  );
}

export function VoucherRedeem() {
  const [typed, setTyped] = useState('');
  const [showLocal, setShowLocal] = useState(false);
  const [scanning, setScanning] = useState(false);
  const [result, setResult] = useState<Redeemed | null>(null);
  const submission = useSubmission();
  const check = checkVoucherNumber(typed);
  const complete = check === 'valid';
  // A wrong number is said as soon as it is complete; a short one only when sent.
  const immediate = check === 'not_digits' || check === 'too_long' || check === 'invalid' ? localProblem(typed) : null;
  const short = showLocal && check === 'incomplete' ? T.voucher.incomplete(voucherDigits(typed)?.length ?? 0) : null;
  const local = immediate ?? short;
  // The gateway may refuse the retry of a redemption whose answer was lost
  // as `voucher_used`: then the first try is what redeemed it.
  const [wasRetry, setWasRetry] = useState(false);
  const { byField, summary, general } = errorsOf(submission.error, ['number'], wasRetry ? { voucher_used: T.voucher.usedAfterRetry } : {});
  const fieldError = local ?? byField.number;
  const summaryErrors: FieldError[] = showLocal && local ? [{ field: 'number', text: local }] : summary;

  async function redeem(digits: string) {
    setWasRetry(submission.retrying());
    const done = await submission.run((key) => call('post', '/api/v1/partner/vouchers/redeem', { body: { number: digits }, key }));
    // What the city owes may have changed even when the answer was lost.
    void refreshPartner();
    if (done) {
      setResult(done);
      setTyped('');
      setShowLocal(false);
      announce(T.voucher.doneAnnounce(formatCents(done.amount_cents)));
    }
  }

  function submit(event: Event) {
    event.preventDefault();
    setResult(null);
    if (!complete) {
      setShowLocal(true);
      return;
    }
    void redeem(voucherDigits(typed)!);
  }

  return (
    <section aria-labelledby="voucher-title" class="card">
      <h2 id="voucher-title">{T.voucher.title}</h2>
      <p>{T.voucher.lead}</p>
      {result && (
        <div class="result" role="status" data-testid="voucher-result">
          <p class="notice-title">{T.voucher.doneTitle}</p>
          <p class="stat">{formatCents(result.amount_cents)}</p>
          <p>
            {T.voucher.doneText(categoryLabel(result.category), result.pass_ref, formatDateTime(result.occurred_at))}
          </p>
        </div>
      )}
      <ErrorSummary errors={summaryErrors} general={general} />
      {wasRetry && submission.error?.code === 'voucher_used' && (
        <p>
          <a href={`${BASE}/operations?channel=voucher`}>{T.voucher.seeVoucherOps}</a>
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <Field name="number" label={T.voucher.label} hint={T.voucher.hint} error={fieldError}>
          {({ id, describedBy, invalid }) => (
            <input
              id={id}
              name="number"
              type="text"
              inputMode="numeric"
              autoComplete="off"
              spellcheck={false}
              class="input-code"
              value={typed}
              maxLength={24}
              aria-describedby={[describedBy, complete ? `${id}-ok` : ''].filter(Boolean).join(' ') || undefined}
              aria-invalid={invalid ? 'true' : undefined}
              onInput={(e) => {
                const value = (e.currentTarget as HTMLInputElement).value;
                setTyped(regroup(value));
                setShowLocal(false);
                submission.setError(null);
              }}
            />
          )}
        </Field>
        {complete && (
          <p class="field-ok" id="f-number-ok">
            {T.voucher.checkOk}
          </p>
        )}
        <div class="button-row">
          <button type="submit" class="button" disabled={submission.busy}>
            {submission.busy ? T.voucher.submitting : T.voucher.submit}
          </button>
          {cameraScanAvailable() && !scanning && (
            <button type="button" class="button button-secondary" onClick={() => setScanning(true)}>
              {T.voucher.scan}
            </button>
          )}
        </div>
      </form>
      {scanning && (
        <Scanner
          onNumber={(digits) => {
            setScanning(false);
            setTyped(groupDigits(digits));
            announce(T.voucher.scanned);
          }}
          onClose={() => setScanning(false)}
        />
      )}
    </section>
  );
}
