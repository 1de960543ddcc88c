/* The back-office console (`/backoffice`): the city's CCAS staff onboard
 * partners, enrol and credit beneficiaries, publish conventions and manage
 * their team; finance staff follow the figures and pay the refunds. Each
 * screen says which staff roles may open it (routes.tsx): the menu shows a
 * person only what its role may open, and the API refuses the rest anyway. */
import { render } from 'preact';
import '../shared/styles.css';
import './backoffice.css';
import { setUnauthenticatedHandler } from '../shared/api';
import { announce } from '../shared/announce';
import { ForgotPasswordPage, LoginPage, LogoutButton, spaceOf, useLoginGate } from '../shared/auth';
import { A } from '../shared/auth.fr';
import { Layout, type NavItem } from '../shared/layout';
import { startRouter, usePlace } from '../shared/router';
import { loadSession, session, sessionEnded, useSession } from '../shared/session';
import { LoadError, Loading, Page, setAppTitle } from '../shared/ui';
import { BASE, staffRole } from './data';
import { SCREENS, findScreen, navOwner } from './routes';
import { T } from './strings.fr';

const LOGIN = `${BASE}/connexion`;
const FORGOT = `${BASE}/mot-de-passe-oublie`;

/** Only a path of this app may be returned to after logging in. */
function safeReturn(target: string | null): string {
  return target && (target === BASE || target.startsWith(`${BASE}/`)) && !target.startsWith('//') ? target : BASE;
}

function Account() {
  const { me } = useSession();
  if (!me) return null;
  const role = staffRole(me);
  return (
    <>
      <span class="who">
        {me.full_name}
        {role ? ` · ${T.roles[role]}` : ''}
      </span>
      <LogoutButton base={BASE} text={T.nav.logout} />
    </>
  );
}

function Message(props: { title: string; text: string }) {
  return (
    <Page title={props.title}>
      <p>{props.text}</p>
      <p>
        <a href={BASE}>{T.back}</a>
      </p>
    </Page>
  );
}

function App() {
  const place = usePlace();
  const state = useSession();
  const path = place.path;
  const forgot = path === FORGOT;
  const mustLogIn = state.status === 'anonymous' && !forgot && path !== LOGIN;
  useLoginGate({ base: BASE, path, mustLogIn, loggedIn: state.status === 'ready' && staffRole(state.me) !== null, returnTo: safeReturn(place.query.get('retour')) });

  const base = { appName: T.appName, homeHref: BASE };
  if (forgot) return <Layout {...base}><ForgotPasswordPage texts={T.auth} /></Layout>;
  if (state.status === 'loading' || mustLogIn) return <Layout {...base}><div class="page"><Loading /></div></Layout>;
  if (state.status === 'error' && state.error) {
    return <Layout {...base}><div class="page"><LoadError error={state.error} retry={() => void loadSession()} /></div></Layout>;
  }
  if (state.status !== 'ready' || !state.me || path === LOGIN) {
    return (
      <Layout {...base}>
        <LoginPage texts={T.auth} returnTo={safeReturn(place.query.get('retour'))} expired={place.query.has('retour')} loggedOut={place.query.has('deconnecte')} />
      </Layout>
    );
  }
  const me = state.me;
  const role = staffRole(me);
  if (!role) {
    // A partner or a beneficiary has its own space.
    window.location.replace(spaceOf(me.role));
    return null;
  }
  const owner = navOwner(path);
  const nav: NavItem[] = SCREENS.filter((s) => s.nav && s.roles.includes(role)).map((s) => ({ href: s.pattern, text: s.nav!, current: s.pattern === owner }));
  const found = findScreen(path);
  const content = !found ? (
    <Message title={T.notFound.title} text={T.notFound.text} />
  ) : !found.screen.roles.includes(role) ? (
    <Message title={T.forbidden.title} text={T.forbidden.text} />
  ) : (
    found.screen.render({ params: found.params, query: place.query, me })
  );
  return <Layout {...base} nav={nav} account={<Account />}>{content}</Layout>;
}

setAppTitle(T.appName);
startRouter([BASE]);
setUnauthenticatedHandler(() => {
  const wasLoggedIn = session().status === 'ready';
  sessionEnded();
  if (wasLoggedIn) announce(A.login.expired);
});
void loadSession();
const root = document.getElementById('app');
if (root) render(<App />, root);
