/* qr.tsx - P8: the partner's QR code and code, shown large, with the poster
 * to print. The QR code opens the beneficiary app's payment page for this
 * partner with a phone's own camera. */
import { groupDigits } from '../../shared/format';
import { Loading, Page } from '../../shared/ui';
import { usePartner } from '../data';
import { T } from '../strings.fr';

export function QrPage() {
  const partner = usePartner();
  return (
    <Page title={T.qr.title} lead={T.qr.lead}>
      {!partner ? (
        <Loading />
      ) : (
        <div class="qr-block">
          <img class="qr-image" src="/api/v1/partner/qr.svg" alt={T.qr.alt(groupDigits(partner.partner_code))} width={320} height={320} />
          <div>
            <h2>{T.qr.codeTitle}</h2>
            <p class="partner-code" data-testid="partner-code">
              {groupDigits(partner.partner_code)}
            </p>
            <p>{T.qr.codeText}</p>
            <h2>{T.qr.howTitle}</h2>
            <ol>
              {T.qr.how.map((step) => (
                <li key={step}>{step}</li>
              ))}
            </ol>
            <div class="button-row">
              <a class="button" href="/api/v1/partner/poster" target="_blank" rel="noopener">
                {T.qr.poster}
                <span class="visually-hidden">{T.qr.newTab}</span>
              </a>
              <a class="button button-secondary" href="/api/v1/partner/qr.png" download={`qr-code-${partner.partner_code}.png`}>
                {T.qr.download}
              </a>
            </div>
            <p class="hint">{T.qr.posterHint}</p>
          </div>
        </div>
      )}
    </Page>
  );
}
