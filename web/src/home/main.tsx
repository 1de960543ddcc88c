/* The home app (`/`): says what the service is and leads to each space;
 * the partner space and the beneficiary app are here, the back-office comes. */
import { render } from 'preact';
import '../shared/styles.css';
import { Layout } from '../shared/layout';
import { Page, setAppTitle } from '../shared/ui';
import { T } from './strings.fr';

function Home() {
  return (
    <Layout appName={T.appName} homeHref="/">
      <Page title={T.title} lead={T.lead}>
        <ul class="home-links">
          <li class="card">
            <h2>{T.partnerTitle}</h2>
            <p>{T.partnerText}</p>
            <a class="button" href="/partenaire">
              {T.partnerLink}
            </a>
          </li>
          <li class="card">
            <h2>{T.beneficiaryTitle}</h2>
            <p>{T.beneficiaryText}</p>
            <a class="button" href="/beneficiaire">
              {T.beneficiaryLink}
            </a>
          </li>
          <li class="card">
            <h2>{T.backofficeTitle}</h2>
            <p>{T.backofficeText}</p>
            <p class="soon">{T.soon}</p>
          </li>
        </ul>
      </Page>
    </Layout>
  );
}

setAppTitle(T.appName);
const root = document.getElementById('app');
if (root) render(<Home />, root);
