/* The partner space (`/partenaire`, and the e-mail links `/activate` and
 * `/reset-password`): the screens of the partner guide, in its order. */
import { render } from 'preact';
import '../shared/styles.css';
import { ForgotPasswordPage, LoginPage, SetPasswordPage, LogoutButton, spaceOf, useLoginGate } from '../shared/auth';
import { A } from '../shared/auth.fr';
import { setUnauthenticatedHandler } from '../shared/api';
import { announce } from '../shared/announce';
import { Layout, type NavItem } from '../shared/layout';
import { startRouter, usePlace } from '../shared/router';
import { loadSession, session, sessionEnded, useSession } from '../shared/session';
import { LoadError, Loading, Page, setAppTitle } from '../shared/ui';
import { BASE, forgetPartner, isAdmin, isPartnerRole, usePartner } from './data';
import { ConventionsPage } from './pages/conventions';
import { ExportsPage } from './pages/exports';
import { HistoryPage } from './pages/history';
import { HomePage } from './pages/home';
import { OperationsPage, prefetchOperations } from './pages/operations';
import { QrPage } from './pages/qr';
import { ReceiptPage } from './pages/receipt';
import { RefundDetailPage, RefundsPage } from './pages/refunds';
import { StructurePage } from './pages/structure';
import { UsersPage } from './pages/users';
import { T } from './strings.fr';

interface Screen {
  path: string;
  nav: string;
  adminOnly: boolean;
}

const SCREENS: Screen[] = [
  { path: BASE, nav: T.nav.home, adminOnly: false },
  { path: `${BASE}/operations`, nav: T.nav.operations, adminOnly: false },
  { path: `${BASE}/remboursements`, nav: T.nav.refunds, adminOnly: true },
  { path: `${BASE}/exports`, nav: T.nav.exports, adminOnly: false },
  { path: `${BASE}/qr-code`, nav: T.nav.qr, adminOnly: false },
  { path: `${BASE}/structure`, nav: T.nav.structure, adminOnly: false },
  { path: `${BASE}/utilisateurs`, nav: T.nav.users, adminOnly: true },
  { path: `${BASE}/conventions`, nav: T.nav.conventions, adminOnly: false },
  { path: `${BASE}/historique`, nav: T.nav.history, adminOnly: false },
  { path: `${BASE}/recu`, nav: T.nav.receipt, adminOnly: false },
];

/** Only a path of this app may be returned to after logging in. */
function safeReturn(target: string | null): string {
  return target && target.startsWith(`${BASE}`) && !target.startsWith('//') ? target : BASE;
}

function Account() {
  const { me } = useSession();
  const partner = usePartner();
  if (!me) return null;
  return (
    <>
      <span class="who">
        {me.full_name}
        {partner ? ` · ${partner.name}` : ''}
      </span>
      <LogoutButton base={BASE} text={T.nav.logout} forget={forgetPartner} />
    </>
  );
}

function Forbidden() {
  return (
    <Page title={T.forbidden.title}>
      <p>{T.forbidden.text}</p>
      <p>
        <a href={BASE}>{T.forbidden.back}</a>
      </p>
    </Page>
  );
}

function NotFound() {
  return (
    <Page title={T.notFound.title}>
      <p>{T.notFound.text}</p>
      <p>
        <a href={BASE}>{T.forbidden.back}</a>
      </p>
    </Page>
  );
}

function Screens(props: { path: string }) {
  const { me } = useSession();
  const admin = isAdmin(me);
  const path = props.path;
  const screen = SCREENS.find((s) => s.path === path);
  if (screen?.adminOnly && !admin) return <Forbidden />;
  if (path === BASE) return <HomePage />;
  if (path === `${BASE}/operations`) return <OperationsPage />;
  if (path === `${BASE}/remboursements`) return <RefundsPage />;
  const refund = /^\/partenaire\/remboursements\/([0-9a-f-]{36})$/.exec(path);
  if (refund) return admin ? <RefundDetailPage requestId={refund[1]!} /> : <Forbidden />;
  if (path === `${BASE}/exports`) return <ExportsPage />;
  if (path === `${BASE}/qr-code`) return <QrPage />;
  if (path === `${BASE}/structure`) return <StructurePage />;
  if (path === `${BASE}/utilisateurs`) return <UsersPage />;
  if (path === `${BASE}/conventions`) return <ConventionsPage />;
  if (path === `${BASE}/recu`) return <ReceiptPage />;
  if (path === `${BASE}/historique`) return <HistoryPage />;
  return <NotFound />;
}

function App() {
  const place = usePlace();
  const state = useSession();
  const path = place.path;
  const loginPath = `${BASE}/connexion`;

  const publicScreen =
    path === '/activate' ? (
      <SetPasswordPage texts={T.auth} mode="activate" token={place.query.get('token') ?? ''} />
    ) : path === '/reset-password' ? (
      <SetPasswordPage texts={T.auth} mode="reset" token={place.query.get('token') ?? ''} />
    ) : path === `${BASE}/mot-de-passe-oublie` ? (
      <ForgotPasswordPage texts={T.auth} />
    ) : null;

  const mustLogIn = state.status === 'anonymous' && !publicScreen && path !== loginPath;
  useLoginGate({ base: BASE, path, mustLogIn, loggedIn: state.status === 'ready' && isPartnerRole(state.me), returnTo: safeReturn(place.query.get('retour')) });

  const base = { appName: T.appName, homeHref: BASE };
  if (publicScreen) return <Layout {...base}>{publicScreen}</Layout>;
  if (state.status === 'loading' || mustLogIn) {
    return (
      <Layout {...base}>
        <div class="page">
          <Loading />
        </div>
      </Layout>
    );
  }
  if (state.status === 'error' && state.error) {
    return (
      <Layout {...base}>
        <div class="page">
          <LoadError error={state.error} retry={() => void loadSession()} />
        </div>
      </Layout>
    );
  }
  if (state.status !== 'ready' || path === loginPath) {
    return (
      <Layout {...base}>
        <LoginPage
          texts={T.auth}
          returnTo={safeReturn(place.query.get('retour'))}
          expired={place.query.has('retour')}
          loggedOut={place.query.has('deconnecte')}
        />
      </Layout>
    );
  }
  if (!isPartnerRole(state.me)) {
    // A beneficiary or the city's staff (logged in here, or after an
    // activation or reset link) have their own app.
    if (state.me && spaceOf(state.me.role) !== BASE) {
      window.location.replace(spaceOf(state.me.role));
      return null;
    }
    return (
      <Layout {...base} account={<Account />}>
        <Page title={T.notPartner.title}>
          <p>{T.notPartner.text}</p>
        </Page>
      </Layout>
    );
  }
  const admin = isAdmin(state.me);
  const current = SCREENS.filter((s) => path === s.path || (s.path !== BASE && path.startsWith(`${s.path}/`)));
  const nav: NavItem[] = SCREENS.filter((s) => admin || !s.adminOnly).map((s) => ({
    href: s.path,
    text: s.nav,
    current: current.some((c) => c.path === s.path),
  }));
  return (
    <Layout {...base} nav={nav} account={<Account />}>
      <Screens path={path} />
    </Layout>
  );
}

setAppTitle(T.appName);
startRouter([BASE, '/activate', '/reset-password']);
setUnauthenticatedHandler(() => {
  const wasLoggedIn = session().status === 'ready';
  sessionEnded();
  forgetPartner();
  if (wasLoggedIn) announce(A.login.expired);
});
void loadSession();
if (window.location.pathname === `${BASE}/operations`) prefetchOperations(window.location.search);
const root = document.getElementById('app');
if (root) render(<App />, root);
