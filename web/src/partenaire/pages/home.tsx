/* home.tsx - the partner space's home: where the partner stands (what the
 * city owes, the code), a warning when a mandatory convention waits, and the
 * voucher redemption the guide puts here ("depuis l'accueil"). */
import { call } from '../../shared/api';
import { formatCents, groupDigits } from '../../shared/format';
import { usePlace } from '../../shared/router';
import { useSession } from '../../shared/session';
import { Notice, Page } from '../../shared/ui';
import { BASE, isAdmin, useLoad, usePartner } from '../data';
import { T } from '../strings.fr';
import { VoucherRedeem } from './voucher';

export function HomePage() {
  const { me } = useSession();
  const partner = usePartner();
  const place = usePlace();
  const conventions = useLoad(() => call('get', '/api/v1/partner/conventions'), []);
  const blocking = (conventions.value?.waiting ?? []).filter((c) => c.mandatory && c.in_force);
  const welcome = place.query.get('bienvenue');
  return (
    <Page title={partner ? T.home.title(partner.name) : T.home.titlePlain} lead={T.home.lead}>
      {welcome && (
        <Notice kind="success" title={welcome === '1' ? T.home.activated : T.home.passwordChanged} role="status" />
      )}
      {blocking.length > 0 && (
        <Notice kind="warning" title={T.home.conventionTitle} role="alert">
          <p>{T.home.conventionText(blocking.map((c) => c.title).join(', '))}</p>
          <p>
            <a href={`${BASE}/conventions`}>{isAdmin(me) ? T.home.conventionLinkAdmin : T.home.conventionLinkUser}</a>
          </p>
        </Notice>
      )}
      <div class="layout-two">
        <VoucherRedeem />
        <div>
          <section class="card" aria-labelledby="summary-title">
            <h2 id="summary-title">{T.home.summaryTitle}</h2>
            {partner ? (
              <dl class="facts">
                <dt>{T.home.owed}</dt>
                <dd>
                  <span class="stat">{formatCents(partner.owed_cents)}</span>
                </dd>
                <dt>{T.home.code}</dt>
                <dd>
                  <span class="partner-code-small">{groupDigits(partner.partner_code)}</span> ·{' '}
                  <a href={`${BASE}/qr-code`}>{T.home.qrLink}</a>
                </dd>
              </dl>
            ) : (
              <p class="loading">{T.common.loading}</p>
            )}
            <ul>
              <li>
                <a href={`${BASE}/operations`}>{T.home.opsLink}</a>
              </li>
              {isAdmin(me) && (
                <li>
                  <a href={`${BASE}/remboursements`}>{T.home.refundsLink}</a>
                </li>
              )}
              <li>
                <a href={`${BASE}/structure`}>{T.home.structureLink}</a>
              </li>
            </ul>
          </section>
        </div>
      </div>
    </Page>
  );
}
