/* pay.tsx - P10: one screen for the three ways in (the partner's QR code
 * opened by the phone's camera at /payer/<code>, a scan in the app, the code
 * typed with its check digit verified as typed), then whom you pay (public
 * name, logo, address, category), the amount in euros, a confirmation that
 * names the envelope that pays and its balance after, and the proof.
 * One Idempotency-Key per payment, reused on retry; offline nothing is sent
 * and nothing is queued. */
import { useEffect, useState } from 'preact/hooks';
import { asApiError, call, type ApiError } from '../../shared/api';
import { partnerCodeValid } from '../../shared/checks';
import { messageFor } from '../../shared/errors.fr';
import { formatCents, groupDigits, parseEuros } from '../../shared/format';
import { navigate } from '../../shared/router';
import { ErrorSummary, LoadError, Loading, Notice, Page, TextField, useSubmission, type FieldError } from '../../shared/ui';
import { BASE, partnerByCode, partnersKnown, passClosed, payingEnvelope, paymentsMade, refreshPass, takePrefetchedPass, type DirectoryPartner, type Pass } from '../data';
import { useOnline } from '../online';
import { budgetName, categoryLabel, T } from '../strings.fr';
import { ClosedNotice } from './home';
import { cameraScanAvailable } from '../../shared/camera';
import { Scanner } from './scan';

type CodeCheck = { ok: true } | { ok: false; text: string | null };

/** What the code typed so far is: said as it is typed, before any request. */
export function checkCode(typed: string, final: boolean): CodeCheck {
  const digits = typed.replace(/[\s-]/g, '');
  if (digits === '') return { ok: false, text: final ? T.pay.codeMissing : null };
  if (!/^\d+$/.test(digits)) return { ok: false, text: T.pay.codeNotDigits };
  if (digits.length < 8) return { ok: false, text: final ? T.pay.codeShort(8 - digits.length) : null };
  if (digits.length > 8 || !partnerCodeValid(digits)) return { ok: false, text: T.pay.codeWrong };
  return { ok: true };
}

function CodeEntry(props: { initial?: string }) {
  const [typed, setTyped] = useState(props.initial ?? '');
  const [submitted, setSubmitted] = useState(Boolean(props.initial));
  const [scanning, setScanning] = useState(false);
  const check = checkCode(typed, submitted);
  const error = check.ok ? undefined : check.text ?? undefined;
  const complete = typed.replace(/[\s-]/g, '').length === 8;

  function submit(event: Event) {
    event.preventDefault();
    // What the field holds now, not the last render's state: on a slow phone
    // the last digit and Enter can both arrive before that render.
    const field = (event.currentTarget as HTMLFormElement).elements.namedItem('partner_code');
    const value = field instanceof HTMLInputElement ? field.value : typed;
    setTyped(value);
    setSubmitted(true);
    if (checkCode(value, true).ok) navigate(`/payer/${value.replace(/[\s-]/g, '')}`);
  }
  return (
    <>
      {cameraScanAvailable() ? (
        scanning ? (
          <Scanner onCode={(code) => navigate(`/payer/${code}`)} onStop={() => setScanning(false)} />
        ) : (
          <div class="button-row">
            <button type="button" class="button button-big" onClick={() => setScanning(true)}>
              {T.pay.scan}
            </button>
          </div>
        )
      ) : (
        <p class="hint">{T.pay.noScan}</p>
      )}
      <ErrorSummary errors={submitted && error ? [{ field: 'partner_code', text: error }] : []} />
      <form class="form" onSubmit={submit} noValidate>
        <TextField name="partner_code" label={T.pay.code} hint={T.pay.codeHint} inputMode="numeric" autoComplete="off"
          class="input-code" maxLength={12} value={typed} error={error}
          onValue={(v) => {
            setTyped(v);
            if (v.replace(/[\s-]/g, '').length < 8) setSubmitted(false);
          }} />
        {check.ok && complete && <p class="field-ok" role="status">{T.pay.codeOk}</p>}
        <div class="button-row">
          <button type="submit" class="button">
            {T.pay.find}
          </button>
        </div>
      </form>
    </>
  );
}

export function PartnerCard(props: { partner: DirectoryPartner }) {
  const p = props.partner;
  return (
    <section class="partner-card" aria-labelledby="partner-name">
      <div class="partner-head">
        {p.logo_url ? (
          <img class="partner-logo" src={p.logo_url} alt={T.logo(p.public_name)} width={64} height={64} />
        ) : (
          <span class="partner-logo partner-logo-empty" aria-hidden="true">
            {p.public_name.slice(0, 1).toUpperCase()}
          </span>
        )}
        <h2 id="partner-name" class="partner-name">{p.public_name}</h2>
      </div>
      <dl class="facts">
        <dt>{T.pay.category}</dt>
        <dd>{categoryLabel(p.category)}</dd>
        {p.address && (
          <>
            <dt>{T.pay.address}</dt>
            <dd>{p.address}</dd>
          </>
        )}
      </dl>
    </section>
  );
}

function payError(error: ApiError, envelopeBalance: number): string {
  return messageFor(error, {
    insufficient_funds: T.pay.insufficient(formatCents(envelopeBalance)),
    convention_not_accepted: T.pay.convention,
    envelope_expired: T.pay.expired,
    network: T.pay.retrying,
    client_timeout: T.pay.retrying,
  });
}

function AmountAndConfirm(props: { partner: DirectoryPartner; pass: Pass }) {
  const online = useOnline();
  const [typed, setTyped] = useState('');
  const [amountError, setAmountError] = useState<string | undefined>();
  const [confirming, setConfirming] = useState<number | null>(null);
  const [offlineRefused, setOfflineRefused] = useState(false);
  const submission = useSubmission();
  const envelope = payingEnvelope(props.pass, props.partner.category);

  if (!envelope || envelope.expired) {
    return <Notice kind="error" title={envelope ? T.pay.expired : T.pay.noEnvelope} role="alert" />;
  }
  const env = envelope;

  function next(event: Event) {
    event.preventDefault();
    const cents = parseEuros(typed);
    const problem = !typed.trim() ? T.pay.amountMissing : cents === null ? T.pay.amountInvalid : cents <= 0 ? T.pay.amountZero
      : cents > env.balance_cents ? T.pay.amountTooHigh(formatCents(env.balance_cents)) : undefined;
    setAmountError(problem);
    if (!problem && cents !== null) setConfirming(cents);
  }

  async function pay() {
    if (confirming === null) return;
    if (!navigator.onLine) {
      // Never queued: the person pays again when the phone is online.
      setOfflineRefused(true);
      return;
    }
    setOfflineRefused(false);
    const amount = confirming;
    const done = await submission.run((key) =>
      call('post', '/api/v1/pass/payments', { key, body: { partner_code: props.partner.partner_code, amount_cents: amount } }),
    );
    if (done) {
      // The name the person saw before paying (public), not the legal one.
      paymentsMade.set(done.operation_id, { ...done, partner_name: props.partner.public_name });
      navigate(`${BASE}/paiement/${done.operation_id}`);
    }
  }

  if (confirming !== null) {
    const general = submission.error ? payError(submission.error, env.balance_cents) : undefined;
    return (
      <Page title={T.pay.confirmTitle}>
        {offlineRefused && <Notice kind="error" title={T.pay.offlineTitle} role="alert"><p>{T.pay.offline}</p></Notice>}
        <ErrorSummary errors={[]} general={general} />
        <dl class="facts confirm">
          <dt>{T.pay.confirmTo}</dt>
          <dd>{props.partner.public_name}</dd>
          <dt>{T.pay.confirmAmount}</dt>
          <dd class="confirm-amount">{formatCents(confirming)}</dd>
          <dt>{T.pay.confirmEnvelope}</dt>
          <dd>{budgetName(env.category)}</dd>
          <dt>{T.pay.confirmAfter}</dt>
          <dd>{formatCents(env.balance_cents - confirming)}</dd>
        </dl>
        <div class="button-row">
          <button type="button" class="button button-big" disabled={submission.busy} onClick={() => void pay()}>
            {submission.busy ? T.pay.paying : T.pay.confirm(formatCents(confirming))}
          </button>
          <button type="button" class="button button-secondary" disabled={submission.busy}
            onClick={() => {
              submission.setError(null);
              setConfirming(null);
            }}>
            {T.pay.change}
          </button>
        </div>
        {!online && !offlineRefused && <Notice kind="warning" title={T.pay.offlineTitle}><p>{T.pay.offlineText}</p></Notice>}
      </Page>
    );
  }

  const summary: FieldError[] = amountError ? [{ field: 'amount', text: amountError }] : [];
  return (
    <Page title={T.pay.title}>
      <PartnerCard partner={props.partner} />
      <p class="paid-by">{T.pay.paidBy(budgetName(env.category), formatCents(env.balance_cents))}</p>
      <ErrorSummary errors={summary} />
      <form class="form" onSubmit={next} noValidate>
        <TextField name="amount" label={T.pay.amount} hint={T.pay.amountHint} inputMode="decimal" autoComplete="off"
          class="input-amount" value={typed} onValue={setTyped} error={amountError} />
        <div class="button-row">
          <button type="submit" class="button button-big">
            {T.pay.next}
          </button>
        </div>
      </form>
      <p>
        <a href={`${BASE}/payer`}>{T.pay.otherPartner}</a>
      </p>
    </Page>
  );
}

export function PayOfflinePage() {
  return (
    <Page title={T.pay.offlineTitle}>
      <Notice kind="warning" role="status">
        <p>{T.pay.offlineText}</p>
      </Notice>
      <p>
        <a href={BASE}>{T.proof.home}</a>
      </p>
    </Page>
  );
}

export function PayPage(props: { code: string | null; userId: string }) {
  const online = useOnline();
  // Opened from a QR code, both may have come with the session already.
  const [partner, setPartner] = useState<DirectoryPartner | null>(() => (props.code && partnersKnown.get(props.code)) || null);
  const [pass, setPass] = useState<Pass | null>(() => takePrefetchedPass(props.userId));
  const [error, setError] = useState<ApiError | null>(null);
  const [generation, setGeneration] = useState(0);
  const code = props.code;
  const valid = code !== null && partnerCodeValid(code);
  useEffect(() => {
    if (!valid || !code) return;
    if (partner?.partner_code === code && pass) return;
    let live = true;
    setError(null);
    setPartner(null);
    Promise.all([partnerByCode(code), refreshPass(props.userId)]).then(
      ([p, seen]) => {
        if (!live) return;
        setPartner(p);
        setPass(seen.pass);
      },
      (e: unknown) => live && setError(asApiError(e)),
    );
    return () => {
      live = false;
    };
  }, [code, generation]);

  if (!online && !(partner && pass)) return <PayOfflinePage />;
  if (code === null || !valid) {
    return (
      <Page title={T.pay.title} lead={T.pay.lead}>
        <CodeEntry initial={code ? groupDigits(code) : undefined} />
      </Page>
    );
  }
  if (error) {
    return (
      <Page title={T.pay.title}>
        {error.code === 'partner_not_found' ? (
          <>
            <Notice kind="error" role="alert"><p>{T.pay.notFound}</p></Notice>
            <CodeEntry />
          </>
        ) : (
          <LoadError error={error} retry={() => setGeneration((g) => g + 1)} />
        )}
      </Page>
    );
  }
  if (!partner || !pass) {
    return (
      <Page title={T.pay.title}>
        <Loading />
      </Page>
    );
  }
  if (passClosed(pass)) {
    return (
      <Page title={T.pay.title}>
        <ClosedNotice pass={pass} />
      </Page>
    );
  }
  return <AmountAndConfirm partner={partner} pass={pass} />;
}
