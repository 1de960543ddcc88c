/* auth.tsx - logging in to the pass (back to the payment page it came
 * from) and the forgotten password. The activation and reset links open the
 * partner space's generic pages, which send a beneficiary here. */
import { useState } from 'preact/hooks';
import { call } from '../../shared/api';
import { navigate } from '../../shared/router';
import { logIn } from '../../shared/session';
import { ErrorSummary, Notice, Page, TextField, errorsOf, useSubmission, type FieldError } from '../../shared/ui';
import { BASE } from '../data';
import { T } from '../strings.fr';

export function LoginPage(props: { returnTo: string; expired: boolean; loggedOut: boolean }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [missing, setMissing] = useState<FieldError[]>([]);
  const submission = useSubmission();
  const { byField, summary, general } = errorsOf(submission.error, ['email', 'password'], {
    invalid_credentials: T.login.invalidCredentials,
  });
  const errors = missing.length ? missing : summary;
  const fieldError = (name: string) => missing.find((e) => e.field === name)?.text ?? byField[name];
  const toPay = props.returnTo.startsWith('/payer/');

  async function submit(event: Event) {
    event.preventDefault();
    const problems: FieldError[] = [];
    if (!email.trim()) problems.push({ field: 'email', text: T.login.emailMissing });
    if (!password) problems.push({ field: 'password', text: T.login.passwordMissing });
    setMissing(problems);
    if (problems.length) return;
    const me = await submission.run(() => logIn(email.trim(), password));
    if (me) navigate(props.returnTo, { replace: true });
  }

  return (
    <Page title={T.login.title} lead={T.login.lead}>
      {toPay && <Notice kind="info">{T.login.toPay}</Notice>}
      {props.expired && !props.loggedOut && !toPay && <Notice kind="info">{T.login.expired}</Notice>}
      {props.loggedOut && <Notice kind="success">{T.login.loggedOut}</Notice>}
      <ErrorSummary errors={errors} general={general} />
      <form class="form" onSubmit={submit} noValidate>
        <TextField name="email" type="email" label={T.login.email} autoComplete="username" spellcheck={false}
          value={email} onValue={setEmail} error={fieldError('email')} />
        <TextField name="password" type="password" label={T.login.password} autoComplete="current-password"
          value={password} onValue={setPassword} error={fieldError('password')} />
        <div class="button-row">
          <button type="submit" class="button button-wide" disabled={submission.busy}>
            {submission.busy ? T.login.submitting : T.login.submit}
          </button>
          <a href={`${BASE}/mot-de-passe-oublie`}>{T.login.forgot}</a>
        </div>
      </form>
    </Page>
  );
}

export function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const [missing, setMissing] = useState<FieldError[]>([]);
  const submission = useSubmission();
  const { byField, summary, general } = errorsOf(submission.error, ['email']);

  async function submit(event: Event) {
    event.preventDefault();
    if (!email.trim()) {
      setMissing([{ field: 'email', text: T.login.emailMissing }]);
      return;
    }
    setMissing([]);
    const done = await submission.run(() => call('post', '/api/v1/auth/password-reset', { body: { email: email.trim() } }));
    if (done) setSent(true);
  }

  return (
    <Page title={T.forgot.title} lead={sent ? undefined : T.forgot.lead}>
      {sent ? (
        <>
          <Notice kind="success" title={T.forgot.sentTitle} role="status">
            <p>{T.forgot.sentText(email.trim())}</p>
          </Notice>
          <p>
            <a href={`${BASE}/connexion`}>{T.forgot.back}</a>
          </p>
        </>
      ) : (
        <>
          <ErrorSummary errors={missing.length ? missing : summary} general={general} />
          <form class="form" onSubmit={submit} noValidate>
            <TextField name="email" type="email" label={T.login.email} autoComplete="username"
              value={email} onValue={setEmail} error={missing[0]?.text ?? byField.email} />
            <div class="button-row">
              <button type="submit" class="button" disabled={submission.busy}>
                {T.forgot.submit}
              </button>
              <a href={`${BASE}/connexion`}>{T.forgot.back}</a>
            </div>
          </form>
        </>
      )}
    </Page>
  );
}
