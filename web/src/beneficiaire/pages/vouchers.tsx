/* vouchers.tsx - P12: exchange vouchers. Create one (amount, the envelope
 * to reserve from, optionally the only partner allowed), show its number
 * and QR code large for the partner to scan, print it (the gateway's A6
 * page), list them with their state in words, cancel a valid one. */
import { useState } from 'preact/hooks';
import { call } from '../../shared/api';
import { announce } from '../../shared/announce';
import { partnerCodeValid } from '../../shared/checks';
import { formatCents, formatDate, formatDay, groupDigits, parseEuros } from '../../shared/format';
import { navigate } from '../../shared/router';
import { ConfirmDialog, ErrorSummary, LoadError, Loading, Notice, Page, SelectField, TextField, errorsOf, useSubmission, type FieldError } from '../../shared/ui';
import { BASE, passClosed, refreshPass, useLoad, type Pass, type Voucher } from '../data';
import { useOnline } from '../online';
import { budgetName, T } from '../strings.fr';
import { ClosedNotice } from './home';

function StatusTag(props: { status: string }) {
  return <span class={`tag tag-voucher-${props.status}`}>{T.vouchers.status[props.status] ?? props.status}</span>;
}

function CreateForm(props: { pass: Pass; userId: string }) {
  const online = useOnline();
  const usable = props.pass.envelopes.filter((e) => !e.expired && e.balance_cents > 0);
  const [amount, setAmount] = useState('');
  const [category, setCategory] = useState(usable[0]?.category ?? 'general');
  const [partnerCode, setPartnerCode] = useState('');
  const [local, setLocal] = useState<FieldError[]>([]);
  const submission = useSubmission();
  const { byField, summary, general } = errorsOf(submission.error, ['amount_cents', 'category', 'partner_code']);
  const envelope = usable.find((e) => e.category === category);

  async function submit(event: Event) {
    event.preventDefault();
    const cents = parseEuros(amount);
    const problems: FieldError[] = [];
    if (!amount.trim()) problems.push({ field: 'amount_cents', text: T.pay.amountMissing });
    else if (cents === null) problems.push({ field: 'amount_cents', text: T.pay.amountInvalid });
    else if (cents <= 0) problems.push({ field: 'amount_cents', text: T.pay.amountZero });
    else if (envelope && cents > envelope.balance_cents) problems.push({ field: 'amount_cents', text: T.pay.amountTooHigh(formatCents(envelope.balance_cents)) });
    const code = partnerCode.replace(/[\s-]/g, '');
    if (code && !partnerCodeValid(code)) problems.push({ field: 'partner_code', text: T.pay.codeWrong });
    if (!online) problems.push({ field: 'amount_cents', text: T.vouchers.offline });
    setLocal(problems);
    if (problems.length || cents === null) return;
    const done = await submission.run((key) =>
      call('post', '/api/v1/pass/vouchers', { key, body: { amount_cents: cents, category, ...(code ? { partner_code: code } : {}) } }),
    );
    if (done) {
      void refreshPass(props.userId).catch(() => undefined);
      navigate(`${BASE}/bons/${done.voucher_id}?nouveau=1`);
    }
  }
  const errorFor = (name: string) => local.find((e) => e.field === name)?.text ?? byField[name];
  return (
    <section aria-labelledby="create-title">
      <h2 id="create-title">{T.vouchers.create}</h2>
      <ErrorSummary errors={local.length ? local : summary} general={general} />
      <form class="form" onSubmit={submit} noValidate>
        <TextField name="amount_cents" label={T.vouchers.amount} hint={T.vouchers.amountHint} inputMode="decimal"
          autoComplete="off" class="input-amount" value={amount} onValue={setAmount} error={errorFor('amount_cents')} />
        <SelectField name="category" label={T.vouchers.envelope} hint={T.vouchers.envelopeHint} value={category} onValue={setCategory} error={errorFor('category')}
          options={usable.map((e) => [e.category, T.vouchers.envelopeOption(budgetName(e.category), formatCents(e.balance_cents))])} />
        <TextField name="partner_code" label={T.vouchers.partnerCode} hint={T.vouchers.partnerCodeHint} inputMode="numeric"
          autoComplete="off" value={partnerCode} onValue={setPartnerCode} error={errorFor('partner_code')} />
        <div class="button-row">
          <button type="submit" class="button" disabled={submission.busy}>
            {submission.busy ? T.vouchers.submitting : T.vouchers.submit}
          </button>
        </div>
      </form>
    </section>
  );
}

export function VouchersPage(props: { userId: string }) {
  const data = useLoad(async () => {
    const [list, seen] = await Promise.all([call('get', '/api/v1/pass/vouchers'), refreshPass(props.userId)]);
    return { vouchers: list.vouchers, pass: seen.pass };
  }, []);
  return (
    <Page title={T.vouchers.title} lead={T.vouchers.lead}>
      {data.error && <LoadError error={data.error} retry={data.reload} />}
      {!data.value && !data.error && <Loading />}
      {data.value &&
        (passClosed(data.value.pass) ? <ClosedNotice pass={data.value.pass} /> : <CreateForm pass={data.value.pass} userId={props.userId} />)}
      {data.value && (
        <section aria-labelledby="list-title">
          <h2 id="list-title">{T.vouchers.list}</h2>
          {data.value.vouchers.length === 0 ? (
            <p>{T.vouchers.empty}</p>
          ) : (
            <ul class="cards">
              {data.value.vouchers.map((v) => (
                <li class="card" key={v.voucher_id} data-voucher-id={v.voucher_id}>
                  <p class="voucher-line">
                    <strong>{formatCents(v.amount_cents)}</strong> <StatusTag status={v.status} />
                  </p>
                  <p class="voucher-number-small">{groupDigits(v.number)}</p>
                  <p class="muted">{T.vouchers.validUntil(formatDay(v.valid_until))} · {budgetName(v.category)}</p>
                  <a href={`${BASE}/bons/${v.voucher_id}`}>
                    {T.vouchers.open}
                    <span class="visually-hidden"> {groupDigits(v.number)}</span>
                  </a>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </Page>
  );
}

export function VoucherPage(props: { voucherId: string; created: boolean; userId: string }) {
  const data = useLoad(() => call('get', '/api/v1/vouchers/{voucher_id}', { params: { voucher_id: props.voucherId } }), [props.voucherId]);
  const [asking, setAsking] = useState(false);
  const cancel = useSubmission();
  const v: Voucher | null = data.value;

  async function confirmCancel() {
    const done = await cancel.run((key) => call('post', '/api/v1/vouchers/{voucher_id}/cancel', { key, params: { voucher_id: props.voucherId } }));
    setAsking(false);
    if (done) {
      announce(T.vouchers.cancelled);
      void refreshPass(props.userId).catch(() => undefined);
      data.reload();
    }
  }
  const title = props.created ? T.vouchers.createdTitle : T.vouchers.detailTitle;
  if (!v) {
    return <Page title={title}>{data.error ? <LoadError error={data.error} retry={data.reload} /> : <Loading />}</Page>;
  }
  return (
    <Page title={title}>
      {cancel.error && <Notice kind="error" role="alert"><p>{errorsOf(cancel.error, []).general}</p></Notice>}
      {v.status === 'cancelled' && <Notice kind="info">{T.vouchers.cancelled}</Notice>}
      <div class={`voucher voucher-${v.status}`}>
        <p class="voucher-amount">
          {formatCents(v.amount_cents)} <StatusTag status={v.status} />
        </p>
        {v.status === 'active' && <p>{T.vouchers.show}</p>}
        <img class="voucher-qr" src={`/api/v1/vouchers/${v.voucher_id}/qr.svg`} alt={T.vouchers.qrAlt(groupDigits(v.number))} width={240} height={240} />
        <p class="voucher-number-label">{T.vouchers.number}</p>
        <p class="voucher-number" data-testid="voucher-number">{groupDigits(v.number)}</p>
        <p>{T.vouchers.validUntil(formatDay(v.valid_until))} · {budgetName(v.category)}</p>
        {v.partner_code && <p>{T.vouchers.onlyPartner(groupDigits(v.partner_code))}</p>}
        <p class="muted">{formatDate(v.issued_at)}</p>
      </div>
      <div class="button-row">
        <a class="button button-secondary" href={`/api/v1/vouchers/${v.voucher_id}/print?format=a6`} target="_blank" rel="noopener">
          {T.vouchers.print}
        </a>
        {v.status === 'active' && (
          <button type="button" class="button button-danger" onClick={() => setAsking(true)}>
            {T.vouchers.cancel}
          </button>
        )}
      </div>
      <p><a href={`${BASE}/bons`}>{T.vouchers.back}</a></p>
      <ConfirmDialog open={asking} title={T.vouchers.cancelTitle} confirm={T.vouchers.cancelConfirm} cancel={T.vouchers.keep}
        danger busy={cancel.busy} onConfirm={() => void confirmCancel()} onClose={() => setAsking(false)}>
        <p>{T.vouchers.cancelText(formatCents(v.amount_cents))}</p>
      </ConfirmDialog>
    </Page>
  );
}
