/* history.tsx - the partner's history: who of the structure (or of the
 * city) did what and when, from `GET /api/v1/partner/history`, newest first,
 * one French sentence per action. The beneficiaries who paid are not named. */
import { HistoryList } from '../../shared/history';
import { Page } from '../../shared/ui';
import { T } from '../strings.fr';

export function HistoryPage() {
  return (
    <Page title={T.history.title} lead={T.history.lead}>
      <HistoryList path="/api/v1/partner/history" hideBeneficiaryName caption={T.history.title} />
    </Page>
  );
}
