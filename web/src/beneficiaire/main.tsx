/* The beneficiary app (`/beneficiaire`, and `/payer/<code>`, the address
 * the partner's QR code carries): the pass, paying a partner, the proof,
 * the history, exchange vouchers, the partners. An installable web app:
 * /sw.js keeps its shell so that it opens offline on the last balance seen. */
import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import '../shared/styles.css';
import { ForgotPasswordPage, LoginPage, LogoutButton, useLoginGate } from '../shared/auth';
import { A } from '../shared/auth.fr';
import './beneficiaire.css';
import { setUnauthenticatedHandler } from '../shared/api';
import { announce } from '../shared/announce';
import { Layout, type NavItem } from '../shared/layout';
import { startRouter, usePlace } from '../shared/router';
import { loadSession, session, sessionEnded, useSession } from '../shared/session';
import { LoadError, Loading, Page, setAppTitle } from '../shared/ui';
import { partnerCodeValid } from '../shared/checks';
import { BASE, forgetPass, lastSeenPass, partnerByCode, prefetchPass, usePass } from './data';
import { HistoryPage } from './pages/history';
import { HomePage, OfflineHomePage } from './pages/home';
import { PartnersPage } from './pages/partners';
import { PayOfflinePage, PayPage } from './pages/pay';
import { ProofPage } from './pages/proof';
import { VoucherPage, VouchersPage } from './pages/vouchers';
import { useOnline } from './online';
import { T } from './strings.fr';

const LOGIN = `${BASE}/connexion`;
const SCREENS = [
  { path: BASE, nav: T.nav.home },
  { path: `${BASE}/payer`, nav: T.nav.pay },
  { path: `${BASE}/historique`, nav: T.nav.history },
  { path: `${BASE}/bons`, nav: T.nav.vouchers },
  { path: `${BASE}/partenaires`, nav: T.nav.partners },
];

/** Only a path of this app may be returned to after logging in. */
function safeReturn(target: string | null): string {
  if (!target || target.startsWith('//')) return BASE;
  return target.startsWith(BASE) || /^\/payer\/[0-9]{1,12}$/.test(target) ? target : BASE;
}

function isPayPath(path: string): boolean {
  return path === `${BASE}/payer` || path.startsWith('/payer/');
}

function Account() {
  const { me } = useSession();
  if (!me) return null;
  return <LogoutButton base={BASE} text={T.nav.logout} forget={forgetPass} />;
}

function Home(props: { userId: string; name: string; welcome: boolean }) {
  const { seen, error, reload } = usePass(props.userId);
  return <HomePage name={props.name} seen={seen} error={error} reload={reload} welcome={props.welcome} />;
}

function Screens(props: { path: string; query: URLSearchParams; userId: string; name: string }) {
  const { path, query, userId } = props;
  if (path === BASE) return <Home userId={userId} name={props.name} welcome={query.has('bienvenue')} />;
  if (path === `${BASE}/payer`) return <PayPage code={null} userId={userId} />;
  const pay = /^\/payer\/([^/]{1,16})$/.exec(path);
  if (pay) return <PayPage code={decodeURIComponent(pay[1]!).replace(/[\s-]/g, '')} userId={userId} />;
  const proof = /^\/beneficiaire\/paiement\/([0-9a-f-]{36})$/.exec(path);
  if (proof) return <ProofPage operationId={proof[1]!} />;
  if (path === `${BASE}/historique`) return <HistoryPage cursor={query.get('curseur')} />;
  if (path === `${BASE}/bons`) return <VouchersPage userId={userId} />;
  const voucher = /^\/beneficiaire\/bons\/([0-9a-f-]{36})$/.exec(path);
  if (voucher) return <VoucherPage voucherId={voucher[1]!} created={query.has('nouveau')} userId={userId} />;
  if (path === `${BASE}/partenaires`) return <PartnersPage />;
  return (
    <Page title={T.notFound.title}>
      <p>{T.notFound.text}</p>
      <p><a href={BASE}>{T.notFound.back}</a></p>
    </Page>
  );
}

function App() {
  const place = usePlace();
  const state = useSession();
  const path = place.path;
  const forgot = path === `${BASE}/mot-de-passe-oublie`;
  const mustLogIn = state.status === 'anonymous' && !forgot && path !== LOGIN;
  useLoginGate({ base: BASE, path, mustLogIn, loggedIn: state.status === 'ready', returnTo: safeReturn(place.query.get('retour')) });

  // Opened offline, the app reads the session again as soon as the phone is online.
  const online = useOnline();
  const offlineStart = state.status === 'error' && state.error?.status === 0;
  useEffect(() => {
    if (online && offlineStart) void loadSession();
  }, [online, offlineStart]);

  const current = SCREENS.filter((s) => path === s.path || (s.path !== BASE && path.startsWith(`${s.path}/`)) || (s.path === `${BASE}/payer` && isPayPath(path)));
  const nav: NavItem[] = SCREENS.map((s) => ({ href: s.path, text: s.nav, current: current.some((c) => c.path === s.path) }));
  const base = { appName: T.appName, homeHref: BASE, offlineText: T.offlineBanner };

  if (forgot) return <Layout {...base}><ForgotPasswordPage texts={T.auth} /></Layout>;
  if (state.status === 'loading' || mustLogIn) {
    return <Layout {...base}><div class="page"><Loading /></div></Layout>;
  }
  if (state.status === 'error' && state.error) {
    // No answer at all: the phone is offline; the app still shows what it saw.
    if (state.error.status === 0) {
      return (
        <Layout {...base} nav={nav}>
          {isPayPath(path) ? <PayOfflinePage /> : <OfflineHomePage seen={lastSeenPass(null)} retry={() => void loadSession()} />}
        </Layout>
      );
    }
    return <Layout {...base}><div class="page"><LoadError error={state.error} retry={() => void loadSession()} /></div></Layout>;
  }
  if (state.status !== 'ready' || !state.me || path === LOGIN) {
    return (
      <Layout {...base}>
        <LoginPage texts={T.auth} notice={isPayPath(place.query.get('retour') ?? '') ? T.toPay : undefined} returnTo={safeReturn(place.query.get('retour'))} expired={place.query.has('retour')} loggedOut={place.query.has('deconnecte')} />
      </Layout>
    );
  }
  if (state.me.role !== 'beneficiary') {
    return (
      <Layout {...base} account={<Account />}>
        <Page title={T.notBeneficiary.title}>
          <p>{T.notBeneficiary.text}</p>
          <p><a href="/partenaire">{T.notBeneficiary.partner}</a></p>
        </Page>
      </Layout>
    );
  }
  return (
    <Layout {...base} nav={nav} account={<Account />}>
      <Screens path={path} query={place.query} userId={state.me.user_id} name={state.me.full_name} />
    </Layout>
  );
}

setAppTitle(T.appName);
startRouter([BASE, '/payer']);
setUnauthenticatedHandler(() => {
  const wasLoggedIn = session().status === 'ready';
  sessionEnded();
  if (wasLoggedIn) announce(A.login.expired);
});
// Opened from a partner's QR code: the partner (public) and the pass are
// read while the session is, and the session is told once they have come,
// so that the first screen drawn is the amount field.
const qrCode = /^\/payer\/(\d{8})$/.exec(window.location.pathname)?.[1];
void loadSession(qrCode && partnerCodeValid(qrCode) ? Promise.all([partnerByCode(qrCode).catch(() => undefined), prefetchPass()]) : undefined);
if ('serviceWorker' in navigator) {
  // The app shell for offline opening; the API is never answered from it.
  window.addEventListener('load', () => void navigator.serviceWorker.register('/sw.js').catch(() => undefined));
}
const root = document.getElementById('app');
if (root) render(<App />, root);
