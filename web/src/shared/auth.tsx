/* auth.tsx - the account pages every space shares: logging in (back to the
 * page asked for), the forgotten password, and the page behind an activation
 * or reset link (choose a password, then logged in with a cookie session and
 * sent to the space of the account's role). Each app gives its own titles
 * and leads (AuthTexts); the rest of the words are in auth.fr.ts. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { call } from './api';
import { A } from './auth.fr';
import { navigate } from './router';
import { logIn, logOut, type Me } from './session';
import { ErrorSummary, Notice, Page, TextField, errorsOf, useSubmission, type FieldError } from './ui';

/** What differs from one space to another. */
export interface AuthTexts {
  /** The app's base path (`/partenaire`): its login is `${base}/connexion`. */
  base: string;
  loginTitle: string;
  loginLead: string;
  forgotLead: string;
  activateLead: string;
}

export function LoginPage(props: {
  texts: AuthTexts;
  returnTo: string;
  expired: boolean;
  loggedOut: boolean;
  /** Said above the form instead of the "expired" notice (e.g. a payment waits). */
  notice?: ComponentChildren;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [missing, setMissing] = useState<FieldError[]>([]);
  const submission = useSubmission();
  const { byField, summary, general } = errorsOf(submission.error, ['email', 'password'], {
    invalid_credentials: A.login.invalidCredentials,
  });
  const errors = missing.length ? missing : summary;
  const fieldError = (name: string) => missing.find((e) => e.field === name)?.text ?? byField[name];

  async function submit(event: Event) {
    event.preventDefault();
    const problems: FieldError[] = [];
    if (!email.trim()) problems.push({ field: 'email', text: A.login.emailMissing });
    if (!password) problems.push({ field: 'password', text: A.login.passwordMissing });
    setMissing(problems);
    if (problems.length) return;
    const me = await submission.run(() => logIn(email.trim(), password));
    if (me) navigate(props.returnTo, { replace: true });
  }

  return (
    <Page title={props.texts.loginTitle} lead={props.texts.loginLead}>
      {props.notice && <Notice kind="info">{props.notice}</Notice>}
      {props.expired && !props.loggedOut && !props.notice && <Notice kind="info">{A.login.expiredNotice}</Notice>}
      {props.loggedOut && <Notice kind="success">{A.login.loggedOut}</Notice>}
      <ErrorSummary errors={errors} general={general} />
      <form class="form" onSubmit={submit} noValidate>
        <TextField name="email" type="email" label={A.login.email} autoComplete="username" spellcheck={false}
          value={email} onValue={setEmail} error={fieldError('email')} />
        <TextField name="password" type="password" label={A.login.password} autoComplete="current-password"
          value={password} onValue={setPassword} error={fieldError('password')} />
        <div class="button-row">
          <button type="submit" class="button" disabled={submission.busy}>
            {submission.busy ? A.login.submitting : A.login.submit}
          </button>
          <a href={`${props.texts.base}/mot-de-passe-oublie`}>{A.login.forgot}</a>
        </div>
      </form>
    </Page>
  );
}

export function ForgotPasswordPage(props: { texts: AuthTexts }) {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const [missing, setMissing] = useState<FieldError[]>([]);
  const submission = useSubmission();
  const { byField, summary, general } = errorsOf(submission.error, ['email']);
  const login = `${props.texts.base}/connexion`;

  async function submit(event: Event) {
    event.preventDefault();
    if (!email.trim()) {
      setMissing([{ field: 'email', text: A.login.emailMissing }]);
      return;
    }
    setMissing([]);
    const done = await submission.run(() => call('post', '/api/v1/auth/password-reset', { body: { email: email.trim() } }));
    if (done) setSent(true);
  }

  return (
    <Page title={A.forgot.title} lead={sent ? undefined : props.texts.forgotLead}>
      {sent ? (
        <>
          <Notice kind="success" title={A.forgot.sentTitle} role="status">
            <p>{A.forgot.sentText(email.trim())}</p>
          </Notice>
          <p>
            <a href={login}>{A.forgot.back}</a>
          </p>
        </>
      ) : (
        <>
          <ErrorSummary errors={missing.length ? missing : summary} general={general} />
          <form class="form" onSubmit={submit} noValidate>
            <TextField name="email" type="email" label={A.login.email} autoComplete="username"
              value={email} onValue={setEmail} error={missing[0]?.text ?? byField.email} />
            <div class="button-row">
              <button type="submit" class="button" disabled={submission.busy}>
                {A.forgot.submit}
              </button>
              <a href={login}>{A.forgot.back}</a>
            </div>
          </form>
        </>
      )}
    </Page>
  );
}

const PASSWORD_MIN = 10;
const PASSWORD_MAX = 128;

/** Where each role's space starts (the activation link is the same for all). */
export function spaceOf(role: Me['role']): string {
  if (role === 'beneficiary') return '/beneficiaire';
  if (role === 'backoffice' || role === 'finance') return '/backoffice';
  return '/partenaire';
}

/** The page behind an activation or reset link: choose a password, then
 * log in with it at once and go to the space of the account's role. */
export function SetPasswordPage(props: { texts: AuthTexts; mode: 'activate' | 'reset'; token: string }) {
  const texts = props.mode === 'activate' ? { ...A.activate, lead: props.texts.activateLead } : A.reset;
  const [password, setPassword] = useState('');
  const [confirmation, setConfirmation] = useState('');
  const [local, setLocal] = useState<FieldError[]>([]);
  // Once the link has set the password, a retry only logs in again.
  const activated = useRef<{ email: string; role: Me['role'] } | null>(null);
  const submission = useSubmission();
  const { byField, summary, general } = errorsOf(submission.error, ['password'], {
    'invalid_value:password': A.password.length,
    'missing_field:password': A.password.length,
  });
  const tokenProblem = submission.error && ['invalid_token', 'token_used', 'token_expired'].includes(submission.error.code);
  const { base } = props.texts;

  async function submit(event: Event) {
    event.preventDefault();
    const problems: FieldError[] = [];
    if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) problems.push({ field: 'password', text: A.password.length });
    else if (password !== confirmation) problems.push({ field: 'confirmation', text: A.password.mismatch });
    setLocal(problems);
    if (problems.length) return;
    const path = props.mode === 'activate' ? '/api/v1/auth/activate' : '/api/v1/auth/password-reset/confirm';
    const me = await submission.run(async () => {
      if (activated.current === null) {
        const answer = await call('post', path, { body: { token: props.token, password } });
        activated.current = { email: answer.email, role: answer.role };
      }
      return logIn(activated.current.email, password);
    });
    if (!me || !activated.current) return;
    // The answer names the account's role: each person goes to its own space.
    const space = spaceOf(activated.current.role);
    const target = `${space}?bienvenue=${props.mode === 'activate' ? '1' : '2'}`;
    // Another space is another app: a page load, not a route of this one.
    if (space === base) navigate(target, { replace: true });
    else window.location.replace(target);
  }

  if (!props.token) {
    return (
      <Page title={texts.title}>
        <Notice kind="error" title={A.password.noToken} role="alert">
          <p>{A.password.noTokenText}</p>
        </Notice>
        <p>
          <a href={`${base}/mot-de-passe-oublie`}>{A.login.forgot}</a>
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
          <a href={`${base}/mot-de-passe-oublie`}>{A.password.newLink}</a> · <a href={`${base}/connexion`}>{A.forgot.back}</a>
        </p>
      )}
      <form class="form" onSubmit={submit} noValidate>
        <TextField name="password" type="password" label={A.password.choose} hint={A.password.hint}
          autoComplete="new-password" value={password} onValue={setPassword} error={errorFor('password')} />
        <TextField name="confirmation" type="password" label={A.password.confirm} autoComplete="new-password"
          value={confirmation} onValue={setConfirmation} error={errorFor('confirmation')} />
        <div class="button-row">
          <button type="submit" class="button" disabled={submission.busy}>
            {submission.busy ? A.password.submitting : texts.submit}
          </button>
        </div>
      </form>
    </Page>
  );
}

/** Sends an anonymous visitor of a private page to the app's login, with
 * the page to come back to, and a person just logged in from the login to
 * that page (`loggedIn`: logged in with a role of this app). */
export function useLoginGate(props: {
  base: string;
  path: string;
  mustLogIn: boolean;
  loggedIn: boolean;
  returnTo: string;
}): void {
  const login = `${props.base}/connexion`;
  useEffect(() => {
    // The address bar, not the rendered path: a logout may have moved it already.
    const current = window.location.pathname.replace(/\/+$/, '') || '/';
    if (props.mustLogIn && current !== login) {
      const back = current === props.base ? '' : `?retour=${encodeURIComponent(current + window.location.search)}`;
      navigate(login + back, { replace: true });
    }
  }, [props.mustLogIn, props.path]);
  useEffect(() => {
    if (props.loggedIn && props.path === login) navigate(props.returnTo, { replace: true });
  }, [props.loggedIn, props.path]);
}

/** "Se déconnecter" in the header: ends the session, forgets what the app
 * kept of it, and shows the login with "Vous êtes déconnecté". */
export function LogoutButton(props: { base: string; text: string; forget?: () => void }) {
  return (
    <button
      type="button"
      class="button-link"
      onClick={async () => {
        try {
          await logOut();
        } finally {
          props.forget?.();
          navigate(`${props.base}/connexion?deconnecte=1`, { replace: true });
        }
      }}
    >
      {props.text}
    </button>
  );
}
