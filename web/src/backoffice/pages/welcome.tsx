/* welcome.tsx - the console's first screen: who is logged in and the
 * screens its role opens, each with what it is for. */
import type { Me } from '../../shared/session';
import { Notice, Page } from '../../shared/ui';
import { staffRole } from '../data';
import { SCREENS } from '../routes';
import { T } from '../strings.fr';

const CARD_OF: Record<string, string> = {
  '/backoffice/partenaires': 'partners',
  '/backoffice/beneficiaires': 'beneficiaries',
  '/backoffice/conventions': 'conventions',
  '/backoffice/remboursements': 'refunds',
  '/backoffice/equipe': 'team',
};

export function WelcomePage(props: { me: Me; welcome: string | null }) {
  const role = staffRole(props.me);
  const screens = SCREENS.filter((s) => s.nav && role && s.roles.includes(role) && CARD_OF[s.pattern]);
  return (
    <Page title={T.welcome.title(props.me.full_name)} lead={screens.length ? T.welcome.lead : T.welcome.nothingYet}>
      {props.welcome === '1' && <Notice kind="success" role="status">{T.welcome.activated}</Notice>}
      {props.welcome === '2' && <Notice kind="success" role="status">{T.welcome.passwordChanged}</Notice>}
      <ul class="home-links">
        {screens.map((s) => (
          <li key={s.pattern} class="card">
            <h2><a href={s.pattern}>{s.nav}</a></h2>
            <p>{T.welcome.cards[CARD_OF[s.pattern]!]}</p>
          </li>
        ))}
      </ul>
    </Page>
  );
}
