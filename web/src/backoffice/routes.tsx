/* routes.tsx - every screen of the console in one list: its address
 * (`:name` for a part of the path), its name in the menu (in this order),
 * and the staff roles that may open it. A new screen is one import and one
 * entry here; main.tsx draws the menu and picks the screen from this list. */
import type { JSX } from 'preact';
import type { Me } from '../shared/session';
import { BASE, type StaffRole } from './data';
import { BeneficiariesPage, BeneficiaryPage, EnrolPage } from './pages/beneficiaries';
import { AcceptancesPage, ConventionsPage } from './pages/conventions';
import { DashboardPage } from './pages/dashboard';
import { PartnerHistoryPage, PassHistoryPage } from './pages/history';
import { ImportPage } from './pages/import';
import { PartnerCreatePage, PartnerPage, PartnersPage } from './pages/partners';
import { RefundsPage } from './pages/refunds';
import { TeamPage } from './pages/team';
import { T } from './strings.fr';

export interface ScreenArgs {
  params: Record<string, string>;
  query: URLSearchParams;
  me: Me;
}

export interface Screen {
  pattern: string;
  /** Its entry in the menu; none for the pages under another (a detail). */
  nav?: string;
  roles: readonly StaffRole[];
  render: (args: ScreenArgs) => JSX.Element;
}

const STAFF: readonly StaffRole[] = ['backoffice', 'finance'];
const BACKOFFICE: readonly StaffRole[] = ['backoffice'];

export const SCREENS: Screen[] = [
  { pattern: BASE, nav: T.nav.dashboard, roles: STAFF, render: ({ me, query }) => <DashboardPage query={query} backoffice={me.role === 'backoffice'} welcome={query.get('bienvenue')} /> },
  { pattern: `${BASE}/partenaires`, nav: T.nav.partners, roles: BACKOFFICE, render: ({ query }) => <PartnersPage query={query} /> },
  { pattern: `${BASE}/partenaires/nouveau`, roles: BACKOFFICE, render: () => <PartnerCreatePage /> },
  { pattern: `${BASE}/partenaires/:partnerId`, roles: BACKOFFICE, render: ({ params, query }) => <PartnerPage partnerId={params.partnerId!} created={query.has('cree')} /> },
  { pattern: `${BASE}/partenaires/:partnerId/historique`, roles: BACKOFFICE, render: ({ params }) => <PartnerHistoryPage partnerId={params.partnerId!} /> },
  { pattern: `${BASE}/beneficiaires`, nav: T.nav.beneficiaries, roles: BACKOFFICE, render: ({ query }) => <BeneficiariesPage query={query} /> },
  { pattern: `${BASE}/beneficiaires/nouveau`, roles: BACKOFFICE, render: () => <EnrolPage /> },
  // Before `/beneficiaires/:userId`, which would take "import" for an id.
  { pattern: `${BASE}/beneficiaires/import`, roles: BACKOFFICE, render: ({ query }) => <ImportPage query={query} /> },
  { pattern: `${BASE}/beneficiaires/:userId`, roles: BACKOFFICE, render: ({ params, query }) => <BeneficiaryPage userId={params.userId!} enrolled={query.has('inscrit')} /> },
  { pattern: `${BASE}/pass/:passId/historique`, roles: BACKOFFICE, render: ({ params, query }) => <PassHistoryPage passId={params.passId!} back={query.get('retour')} /> },
  { pattern: `${BASE}/conventions`, nav: T.nav.conventions, roles: BACKOFFICE, render: () => <ConventionsPage /> },
  { pattern: `${BASE}/conventions/:conventionId`, roles: BACKOFFICE, render: ({ params }) => <AcceptancesPage conventionId={params.conventionId!} /> },
  { pattern: `${BASE}/remboursements`, nav: T.nav.refunds, roles: STAFF, render: ({ query }) => <RefundsPage query={query} /> },
  { pattern: `${BASE}/equipe`, nav: T.nav.team, roles: BACKOFFICE, render: ({ me }) => <TeamPage me={me} /> },
];

function matcher(pattern: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = pattern.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { regex: new RegExp(`^${source}$`), names };
}

/** The first screen whose pattern matches the path, with the path's parts. */
export function findScreen(path: string): { screen: Screen; params: Record<string, string> } | null {
  for (const screen of SCREENS) {
    const { regex, names } = matcher(screen.pattern);
    const found = regex.exec(path);
    if (!found) continue;
    const params: Record<string, string> = {};
    names.forEach((name, i) => {
      params[name] = decodeURIComponent(found[i + 1]!);
    });
    return { screen, params };
  }
  return null;
}

/** The menu's entry a path belongs to: its own, or the one above it. */
export function navOwner(path: string): string | null {
  let owner: string | null = null;
  for (const screen of SCREENS) {
    if (!screen.nav) continue;
    const inside = path === screen.pattern || (screen.pattern !== BASE && path.startsWith(`${screen.pattern}/`));
    if (inside && (owner === null || screen.pattern.length > owner.length)) owner = screen.pattern;
  }
  return owner;
}
