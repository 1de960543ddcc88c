/* auth.tsx - P1: log in, the activation and reset links (choose a password,
 * then logged in with a cookie session), the forgotten password. */
import { useRef, useState } from 'preact/hooks';
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
      {props.expired && !props.loggedOut && <Notice kind="info">{T.login.expiredNotice}</Notice>}
      {props.loggedOut && <Notice kind="success">{T.login.loggedOut}</Notice>}
      <ErrorSummary errors={errors} general={general} />
      <form class="form" onSubmit={submit} noValidate>
        <TextField
          name="email"
          type="email"
          label={T.login.email}
          autoComplete="username"
          spellcheck={false}
          value={email}
          onValue={setEmail}
          error={fieldError('email')}
        />
        <TextField
          name="password"
          type="password"
          label={T.login.password}
          autoComplete="current-password"
          value={password}
          onValue={setPassword}
          error={fieldError('password')}
        />
        <div class="button-row">
          <button type="submit" class="button" disabled={submission.busy}>
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
            <TextField
              name="email"
              type="email"
              label={T.login.email}
              autoComplete="username"
              value={email}
              onValue={setEmail}
              error={missing[0]?.text ?? byField.email}
            />
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

const PASSWORD_MIN = 10;
const PASSWORD_MAX = 128;

/** The page behind an activation or reset link: choose a password, then
 * log in with it at once. */
export function SetPasswordPage(props: { mode: 'activate' | 'reset'; token: string }) {
  const texts = props.mode === 'activate' ? T.activate : T.reset;
  const [password, setPassword] = useState('');
  const [confirmation, setConfirmation] = useState('');
  const [local, setLocal] = useState<FieldError[]>([]);
  // Once the link has set the password, a retry only logs in again.
  const activatedEmail = useRef<string | null>(null);
  const submission = useSubmission();
  const { byField, summary, general } = errorsOf(submission.error, ['password'], {
    'invalid_value:password': T.password.length,
    'missing_field:password': T.password.length,
  });
  const tokenProblem = submission.error && ['invalid_token', 'token_used', 'token_expired'].includes(submission.error.code);

  async function submit(event: Event) {
    event.preventDefault();
    const problems: FieldError[] = [];
    if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) problems.push({ field: 'password', text: T.password.length });
    else if (password !== confirmation) problems.push({ field: 'confirmation', text: T.password.mismatch });
    setLocal(problems);
    if (problems.length) return;
    const path = props.mode === 'activate' ? '/api/v1/auth/activate' : '/api/v1/auth/password-reset/confirm';
    const done = await submission.run(async () => {
      if (activatedEmail.current === null) {
        const answer = await call('post', path, { body: { token: props.token, password } });
        activatedEmail.current = answer.email;
      }
      return logIn(activatedEmail.current, password);
    });
    if (done) navigate(`${BASE}?bienvenue=${props.mode === 'activate' ? '1' : '2'}`, { replace: true });
  }

  if (!props.token) {
    return (
      <Page title={texts.title}>
        <Notice kind="error" title={T.password.noToken} role="alert">
          <p>{T.password.noTokenText}</p>
        </Notice>
        <p>
          <a href={`${BASE}/mot-de-passe-oublie`}>{T.login.forgot}</a>
        </p>
      </Page>
    );
  }
  const errorFor = (name: string) => local.find((e) => e.field === name)?.text ?? byField[name];
  return (
    <Page title={texts.title} lead={texts.lead}>
      <ErrorSummary errors={local.length ? local : summary} general={general} />
      {tokenProblem && (
        <p>
          <a href={`${BASE}/mot-de-passe-oublie`}>{T.password.newLink}</a> · <a href={`${BASE}/connexion`}>{T.forgot.back}</a>
        </p>
      )}
      <form class="form" onSubmit={submit} noValidate>
        <TextField
          name="password"
          type="password"
          label={T.password.choose}
          hint={T.password.hint}
          autoComplete="new-password"
          value={password}
          onValue={setPassword}
          error={errorFor('password')}
        />
        <TextField
          name="confirmation"
          type="password"
          label={T.password.confirm}
          autoComplete="new-password"
          value={confirmation}
          onValue={setConfirmation}
          error={errorFor('confirmation')}
        />
        <div class="button-row">
          <button type="submit" class="button" disabled={submission.busy}>
            {submission.busy ? T.password.submitting : texts.submit}
          </button>
        </div>
      </form>
    </Page>
  );
}
