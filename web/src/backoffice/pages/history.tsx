/* history.tsx - the history of a partner (`GET /api/v1/partners/{id}/history`)
 * and of a pass (`GET /api/v1/passes/{id}/history`), for the back-office:
 * who did what and when, newest first, in French sentences
 * (shared/history.fr.ts). The partner's name comes from its detail. */
import '../figures.css';
import { HistoryList } from '../../shared/history';
import { useLoad } from '../../shared/load';
import { Page } from '../../shared/ui';
import { call } from '../../shared/api';
import { BASE } from '../data';
import { F } from '../strings-figures.fr';

const H = F.history;

export function PartnerHistoryPage(props: { partnerId: string }) {
  const detail = useLoad(() => call('get', '/api/v1/partners/{partner_id}', { params: { partner_id: props.partnerId } }), [props.partnerId]);
  const name = detail.value?.partner.name;
  return (
    <Page title={name ? H.partnerTitle(name) : H.partnerUnnamed} lead={H.partnerLead} wide>
      <p>
        <a href={`${BASE}/partenaires/${props.partnerId}`}>{H.back}</a>
      </p>
      <HistoryList path="/api/v1/partners/{partner_id}/history" params={{ partner_id: props.partnerId }} caption={H.caption} />
    </Page>
  );
}

export function PassHistoryPage(props: { passId: string; back?: string | null }) {
  return (
    <Page title={H.passTitle} lead={H.passLead(props.passId)} wide>
      {props.back && props.back.startsWith(`${BASE}/`) && (
        <p>
          <a href={props.back}>{H.back}</a>
        </p>
      )}
      <HistoryList path="/api/v1/passes/{pass_id}/history" params={{ pass_id: props.passId }} caption={H.caption} />
    </Page>
  );
}
