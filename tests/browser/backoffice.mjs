// backoffice.mjs - the city's console walked in Chromium against the real
// stack, as a CCAS agent at a desk would: logging in, the menu of its role,
// a partner created (its activation e-mail arrives) and its detail, a
// beneficiary enrolled by keyboard alone, credited, given a new envelope
// with an end date by a credit, then its pass closed;
// conventions and who accepted them; the team (a finance user created, the
// last back-office administrator refused); the finance user sees only its
// pages. axe-core on every screen, every screen at 1280 px and 390 px wide
// (screenshots in var/screenshots/backoffice/).
//
// Environment (tests/integration/test_web_backoffice.py sets it):
//   SP_TEST_BASE_URL              the gateway
//   SP_TEST_MAIL_DIR              the SMTP sink's folder
//   SP_TEST_BO_EMAIL, SP_TEST_BO_PASSWORD  a back-office account
//   SP_TEST_PAGING_WORD, SP_TEST_PAGING_COUNT  that many beneficiaries (over
//                                 one page of 50) share this word in their name
//   SP_TEST_PAID_PARTNER_ID       a partner paid 12,50 € by a beneficiary
//   SP_TEST_SCREENSHOTS           where to save the screenshots
// Exit status 0 when every check passed; the output says what was checked.
import {
  BASE_URL, Failure, api, apiLogin, axe, check, freshScreenshots, journeySteps, launch, linkIn, openContext, screenshot, waitForMail,
} from './lib.mjs';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Failure(`${name} is not set`);
  return value;
};
const MAIL_DIR = env('SP_TEST_MAIL_DIR');
const BO_EMAIL = env('SP_TEST_BO_EMAIL');
const BO_PASSWORD = env('SP_TEST_BO_PASSWORD');
const PAGING_WORD = env('SP_TEST_PAGING_WORD');
const PAGING_COUNT = Number(env('SP_TEST_PAGING_COUNT'));
const PAID_PARTNER_ID = env('SP_TEST_PAID_PARTNER_ID');
const STAMP = Date.now().toString(36);
const NARROW = { width: 390, height: 844 };

const { step, summary } = journeySteps();

const h1 = (page, text) => page.locator('h1', { hasText: text }).waitFor();

/** axe-core clean and a screenshot, at 1280 px then at 390 px (no sideways scrolling). */
async function screen(page, name) {
  await page.waitForFunction(() => !document.querySelector('.loading'));
  const violations = await axe(page);
  check(violations.length === 0, `axe on ${name}: ${JSON.stringify(violations)}`);
  await screenshot(page, `${name}-1280`);
  const size = page.viewportSize();
  await page.setViewportSize(NARROW);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, `${name} scrolls sideways at 390 px (${overflow} px)`);
  const narrow = await axe(page);
  check(narrow.length === 0, `axe on ${name} at 390 px: ${JSON.stringify(narrow)}`);
  await screenshot(page, `${name}-390`);
  await page.setViewportSize(size);
}

async function logIn(page, email, password) {
  await page.getByLabel('Adresse e-mail').fill(email);
  await page.getByLabel('Mot de passe', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Se connecter' }).click();
}

async function menu(page) {
  return (await page.locator('nav.main-nav a').allTextContents()).map((t) => t.trim());
}

async function gotoMenu(page, text, title) {
  await page.locator('nav.main-nav a', { hasText: text }).click();
  await h1(page, title ?? text);
}

freshScreenshots();
const browser = await launch();
let exitCode = 0;
try {
  // bypassCSP only so that axe-core can be injected; the keyboard run below
  // keeps the CSP and fails on any console error.
  const { page, problems } = await openContext(browser, { bypassCSP: true });

  await step('the console asks to log in, then shows the back-office menu', async () => {
    await page.goto(`${BASE_URL}/backoffice/partenaires`);
    await h1(page, 'Connexion à la console de la ville');
    check(page.url().includes('/backoffice/connexion?retour='), `not sent to the login with the page to come back to: ${page.url()}`);
    await screen(page, 'connexion');
    await logIn(page, BO_EMAIL, 'not the password at all');
    await page.locator('.error-summary', { hasText: 'incorrect' }).waitFor();
    await logIn(page, BO_EMAIL, BO_PASSWORD);
    await h1(page, 'Partenaires');
    const items = await menu(page);
    const expected = ['Tableau de bord', 'Partenaires', 'Bénéficiaires', 'Conventions', 'Équipe'];
    for (const item of expected) check(items.includes(item), `the menu lacks ${item}: ${items}`);
    await gotoMenu(page, 'Tableau de bord', 'Tableau de bord');
    await screen(page, 'accueil');
  });

  const boToken = await apiLogin(BO_EMAIL, BO_PASSWORD);
  const partnerName = `Club de judo ${STAMP}`;
  const partnerAdmin = `judo-${STAMP}@example.org`;
  let partnerUrl = '';

  await step('a partner is created; its activation e-mail arrives; its page and the list say it is not activated', async () => {
    await gotoMenu(page, 'Partenaires');
    await screen(page, 'partenaires');
    await page.getByRole('link', { name: 'Inscrire un partenaire' }).click();
    await h1(page, 'Inscrire un partenaire');
    // Nothing typed: every problem said beside its field, nothing sent.
    await page.getByRole('button', { name: 'Inscrire le partenaire' }).click();
    await page.locator('.error-summary', { hasText: 'Saisissez le nom de la structure' }).waitFor();
    await screen(page, 'partenaire-erreurs');
    await page.getByLabel('Nom de la structure').fill(partnerName);
    await page.getByLabel('Catégorie').selectOption('sport');
    await page.getByLabel('Nom et prénom').fill('Judo Admin');
    await page.getByLabel('Adresse e-mail').fill(partnerAdmin);
    await page.getByRole('button', { name: 'Inscrire le partenaire' }).click();
    await h1(page, partnerName);
    await page.locator('.notice', { hasText: `Un e-mail d’activation vient d’être envoyé à ${partnerAdmin}` }).waitFor();
    partnerUrl = page.url();
    const mail = await waitForMail(MAIL_DIR, partnerAdmin, { contains: '/activate?token=' });
    check(linkIn(mail, '/activate').startsWith(`${BASE_URL}/activate?token=`), 'the activation e-mail has no link to this site');
    check(await page.locator('.tag', { hasText: 'Activation en attente' }).first().isVisible(), 'the partner page does not say the account is not activated');
    await screen(page, 'partenaire-detail');
    await page.getByRole('button', { name: 'Renvoyer l’e-mail d’activation' }).click();
    await page.locator('.notice', { hasText: 'Un nouvel e-mail d’activation a été envoyé' }).waitFor();
    await gotoMenu(page, 'Partenaires');
    await page.getByLabel('Nom ou code partenaire').fill(`judo ${STAMP}`);
    await page.getByLabel('État').selectOption('not_activated');
    await page.getByRole('button', { name: 'Rechercher' }).click();
    await page.waitForURL(/etat=not_activated/);
    const row = page.locator('tbody tr', { hasText: partnerName });
    await row.waitFor();
    check(await row.locator('.tag', { hasText: 'Activation en attente' }).isVisible(), 'the list does not show the partner as not activated');
    // The list read before the search may still be on screen for a moment:
    // wait (bounded) for the search's answer, one row.
    const onlyOne = await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1, null, { timeout: 10000 })
      .then(() => true, () => false);
    check(onlyOne, 'the search found more than the new partner');
    await screen(page, 'partenaires-filtre');
  });

  await step('a paid partner’s page shows the payment among its operations and what the city owes it', async () => {
    await page.goto(`${BASE_URL}/backoffice/partenaires/${PAID_PARTNER_ID}`);
    await h1(page, 'Librairie du Marché');
    const ops = page.locator('section', { hasText: 'Dernières opérations' });
    await ops.locator('tbody tr', { hasText: '12,50' }).waitFor();
    check(await ops.locator('tbody tr', { hasText: 'Acceptée' }).isVisible(), 'the payment is not shown as accepted');
    const owed = (await page.locator('dd.amount-big').textContent()).replace(/\s/g, ' ');
    check(/12,50\s€/.test(owed), `the amount owed is not 12,50 €: ${owed}`);
    await screen(page, 'partenaire-paye');
  });

  const person = { name: `Awa Diallo ${STAMP}`, email: `awa-${STAMP}@example.org` };
  let beneficiaryUrl = '';

  await step('keyboard only (Tab, Enter, typing): log in, open Bénéficiaires, enrol one with a first credit', async () => {
    // This context keeps the page's CSP: a violation would be a console error.
    const k = await openContext(browser);
    const p = k.page;
    const tabTo = async (predicate, what, max = 60) => {
      for (let i = 0; i < max; i += 1) {
        await p.keyboard.press('Tab');
        if (await p.evaluate(predicate)) return;
      }
      throw new Failure(`Tab never reached ${what}`);
    };
    await p.goto(`${BASE_URL}/backoffice`);
    await h1(p, 'Connexion à la console');
    await tabTo(() => document.activeElement?.id === 'f-email', 'the e-mail field');
    await p.keyboard.type(BO_EMAIL);
    await p.keyboard.press('Tab');
    await p.keyboard.type(BO_PASSWORD);
    await p.keyboard.press('Enter');
    await h1(p, 'Tableau de bord');
    await tabTo(() => document.activeElement?.tagName === 'A' && document.activeElement.textContent === 'Bénéficiaires', 'the Bénéficiaires link');
    await p.keyboard.press('Enter');
    await h1(p, 'Bénéficiaires');
    // The heading takes the focus once the page is drawn.
    await p.waitForFunction(() => document.activeElement?.tagName === 'H1', null, { timeout: 3000 })
      .catch(() => { throw new Failure('the focus did not move to the new page’s heading'); });
    await tabTo(() => document.activeElement?.textContent === 'Inscrire un bénéficiaire', 'the enrol link');
    await p.keyboard.press('Enter');
    await h1(p, 'Inscrire un bénéficiaire');
    await tabTo(() => document.activeElement?.id === 'f-full_name', 'the name field');
    await p.keyboard.type(person.name);
    await p.keyboard.press('Tab');
    await p.keyboard.type(person.email);
    await p.keyboard.press('Tab');
    await p.keyboard.type('Sport');
    check(await p.evaluate(() => document.getElementById('f-category')?.value === 'sport'), 'typing “Sport” did not choose the Sport envelope');
    await p.keyboard.press('Tab');
    await p.keyboard.type('31/12/2099');
    await p.keyboard.press('Tab');
    await p.keyboard.type('50');
    await p.keyboard.press('Enter');
    await h1(p, person.name);
    await p.locator('.notice', { hasText: `Un e-mail d’activation vient d’être envoyé à ${person.email}` }).waitFor();
    const text = await p.locator('main').textContent();
    check(text.includes('50,00') && text.includes('31/12/2099'), `the new pass does not show its 50,00 € and its end date: ${text.slice(0, 400)}`);
    beneficiaryUrl = p.url();
    await waitForMail(MAIL_DIR, person.email, { contains: '/activate?token=' });
    const real = k.problems.filter((x) => !/status of 401/.test(x));
    check(real.length === 0, `console errors with the CSP on: ${real.join('; ')}`);
    await screenshot(p, 'clavier-inscription');
    await k.context.close();
  });

  await step('the beneficiary is found by the search; credited 25 €; a culture envelope opened by a credit with its end date; its pass closed after a confirmation that says what it does', async () => {
    await gotoMenu(page, 'Bénéficiaires');
    await page.getByLabel('Nom ou adresse e-mail').fill(person.email.toUpperCase());
    await page.getByRole('button', { name: 'Rechercher' }).click();
    await page.locator('tbody tr', { hasText: person.name }).waitFor();
    await page.locator('.totals', { hasText: '1 bénéficiaire' }).waitFor();
    await screen(page, 'beneficiaires');
    await page.getByRole('link', { name: person.name }).click();
    await h1(page, person.name);
    check(page.url() === beneficiaryUrl.split('?')[0], `the list leads elsewhere: ${page.url()}`);
    await page.getByLabel('Montant en euros').fill('0');
    await page.getByRole('button', { name: 'Créditer' }).click();
    await page.locator('.error-summary', { hasText: 'supérieur à 0' }).waitFor();
    await page.getByLabel('Montant en euros').fill('25');
    await page.getByRole('button', { name: 'Créditer' }).click();
    await page.locator('.notice', { hasText: 'Son solde est maintenant de 75,00' }).waitFor();
    // A credit opens an envelope the pass lacks, with an end date typed as
    // JJ/MM/AAAA (400 days on: whatever the stack's test clock says).
    const until = new Date(Date.now() + 400 * 86400000);
    const untilText = `${String(until.getUTCDate()).padStart(2, '0')}/${String(until.getUTCMonth() + 1).padStart(2, '0')}/${until.getUTCFullYear()}`;
    await page.getByLabel('Enveloppe', { exact: true }).selectOption({ label: 'Culture (nouvelle enveloppe)' });
    await page.locator('.hint', { hasText: 'ce crédit l’ouvre' }).waitFor();
    await page.getByLabel('Montant en euros').fill('10');
    await page.getByLabel('Nouvelle date de fin (facultatif)').fill('01/01/2020');
    await page.getByRole('button', { name: 'Créditer' }).click();
    await page.locator('.error-summary', { hasText: 'aujourd’hui ou plus tard' }).waitFor();
    const fieldError = await page.getByLabel('Nouvelle date de fin (facultatif)').getAttribute('aria-invalid');
    check(fieldError === 'true', 'the end date field is not marked invalid beside its error');
    await page.getByLabel('Nouvelle date de fin (facultatif)').fill(untilText);
    await page.getByRole('button', { name: 'Créditer' }).click();
    await page.locator('.notice', { hasText: `Enveloppe Culture ouverte et créditée de 10,00` }).waitFor();
    await page.locator('.notice', { hasText: `utilisable jusqu’au ${untilText} inclus` }).waitFor();
    const envelopes = page.locator('table', { has: page.locator('caption', { hasText: /^Enveloppes$/ }) });
    const culture = envelopes.locator('tbody tr', { hasText: 'Culture' });
    await culture.locator('td', { hasText: untilText }).waitFor();
    check((await culture.textContent()).includes('10,00'), `the opened envelope's row: ${await culture.textContent()}`);
    await screen(page, 'beneficiaire-detail');
    await page.getByRole('button', { name: 'Clore le Pass…' }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    const said = await dialog.textContent();
    check(/85,00\s€/.test(said) && said.includes('revient au budget') && said.includes('ne pourra plus payer') && said.includes('ne peut pas être rouvert'),
      `the confirmation does not say what closing does: ${said}`);
    await screenshot(page, 'cloture-confirmation-1280');
    const violations = await axe(page);
    check(violations.length === 0, `axe on the confirmation: ${JSON.stringify(violations)}`);
    await dialog.getByLabel('Motif (facultatif)').fill('Déménagement');
    await dialog.getByRole('button', { name: 'Clore définitivement le Pass' }).click();
    await page.locator('.notice', { hasText: 'Solde rendu au budget du programme : 85,00' }).waitFor();
    await page.locator('dd .tag', { hasText: 'Clos' }).waitFor();
    check(!(await page.getByRole('button', { name: 'Créditer' }).isVisible()), 'a closed pass still offers a credit');
    const userId = beneficiaryUrl.split('/').pop().split('?')[0];
    const detail = await api('GET', `/api/v1/beneficiaries/${userId}`, { token: boToken });
    check(detail.json?.pass?.status === 'closed' && detail.json.pass.balance_cents === 0, `the API does not say the pass is closed and empty: ${detail.text}`);
    await screen(page, 'beneficiaire-clos');
  });

  await step('the beneficiaries found by a word of their name are read page by page, with their total', async () => {
    await gotoMenu(page, 'Bénéficiaires');
    await page.getByLabel('Nom ou adresse e-mail').fill(PAGING_WORD.toLowerCase());
    await page.getByRole('button', { name: 'Rechercher' }).click();
    await page.locator('.totals', { hasText: `${PAGING_COUNT} bénéficiaires` }).waitFor();
    const rows = page.locator('tbody tr');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 50);
    const first = (await rows.locator('th').allTextContents()).map((t) => t.trim());
    check(first[0] === `${PAGING_WORD} 01` && first[49] === `${PAGING_WORD} 50`, `the first page is not the first 50 by name: ${first[0]} … ${first[49]}`);
    await page.getByRole('link', { name: 'Page suivante' }).click();
    await page.waitForURL(/curseur=/);
    await page.waitForFunction((n) => document.querySelectorAll('tbody tr').length === n, PAGING_COUNT - 50);
    const second = (await rows.locator('th').allTextContents()).map((t) => t.trim());
    check(second[0] === `${PAGING_WORD} 51` && !second.some((name) => first.includes(name)), `the second page repeats or skips: ${second}`);
    check(!(await page.getByRole('link', { name: 'Page suivante' }).isVisible()), 'the last page offers a next page');
    await screen(page, 'beneficiaires-page-2');
    await page.getByRole('link', { name: 'Revenir à la première page' }).click();
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 50);
  });

  const convention = { title: `Charte d’accueil ${STAMP}`, version: `v-${STAMP}` };
  await step('a convention is published; who accepted it and who has not', async () => {
    await gotoMenu(page, 'Conventions');
    await page.getByLabel('Titre', { exact: true }).fill(convention.title);
    await page.getByLabel('Version', { exact: true }).fill(convention.version);
    await page.getByLabel('En vigueur à partir du').fill('01/01/2026');
    // Optional: a mandatory one would stop the other tests' partners from being paid.
    await page.getByLabel('Facultative').check();
    await page.getByLabel('Texte de la convention').fill('Article 1. La structure accueille les bénéficiaires du Pass.');
    await page.getByRole('button', { name: 'Publier la convention' }).click();
    await page.locator('.notice', { hasText: `(version ${convention.version}) est publiée` }).waitFor();
    await page.getByRole('link', { name: convention.title }).first().waitFor();
    await screen(page, 'conventions');
    await page.getByRole('link', { name: convention.title }).first().click();
    await h1(page, convention.title);
    await page.locator('section', { hasText: 'Pas encore acceptée' }).getByRole('link', { name: partnerName }).waitFor();
    await screen(page, 'convention-acceptations');
  });

  const finance = { name: `Fanny Finances ${STAMP}`, email: `finances-${STAMP}@example.org`, password: 'une phrase de passe des finances' };
  await step('Équipe: a finance user is added and receives its activation e-mail; the last back-office account is not removed', async () => {
    await gotoMenu(page, 'Équipe');
    await screen(page, 'equipe');
    await page.getByLabel('Nom', { exact: true }).fill(finance.name);
    await page.getByLabel('Adresse e-mail').fill(finance.email);
    await page.getByLabel('Finances').check();
    await page.getByRole('button', { name: 'Ajouter l’agent' }).click();
    await page.locator('.notice', { hasText: `Un e-mail d’activation vient d’être envoyé à ${finance.email}` }).waitFor();
    await page.locator('tbody tr', { hasText: finance.email }).waitFor();
    const staff = await api('GET', '/api/v1/staff-users', { token: boToken });
    const admins = staff.json.users.filter((u) => u.role === 'backoffice' && u.activated && !u.disabled);
    if (admins.length === 1) {
      const me = page.locator('tbody tr', { hasText: BO_EMAIL });
      await me.locator('select').selectOption('finance');
      await me.getByRole('button', { name: 'Enregistrer le profil' }).click();
      await me.locator('.error-message', { hasText: 'il ne resterait aucun compte Back-office' }).waitFor();
      await screen(page, 'equipe-dernier-admin');
      return 'the last back-office refusal shown beside the role';
    }
    return `${admins.length} active back-office accounts: the last-one refusal is not reachable here`;
  });

  await step('the finance user activates its account from the e-mail and sees only the dashboard and the refunds', async () => {
    const f = await openContext(browser, { bypassCSP: true });
    const mail = await waitForMail(MAIL_DIR, finance.email, { contains: '/activate?token=' });
    await f.page.goto(linkIn(mail, '/activate'));
    await h1(f.page, 'Activer votre compte');
    await f.page.getByLabel('Mot de passe', { exact: true }).fill(finance.password);
    await f.page.getByLabel('Confirmez le mot de passe').fill(finance.password);
    await f.page.getByRole('button', { name: 'Activer mon compte' }).click();
    await h1(f.page, 'Tableau de bord');
    await f.page.locator('.notice-success', { hasText: 'Votre compte est activé' }).waitFor();
    check(f.page.url().includes('/backoffice'), `activation did not lead to the console: ${f.page.url()}`);
    const items = await menu(f.page);
    check(items.includes('Tableau de bord') && items.every((i) => ['Tableau de bord', 'Remboursements'].includes(i)), `the finance menu shows more than its pages: ${items}`);
    await screen(f.page, 'finances-accueil');
    await f.page.goto(`${BASE_URL}/backoffice/beneficiaires`);
    await h1(f.page, 'Page réservée au back-office');
    await screen(f.page, 'finances-refus');
    await f.context.close();
    return `menu: ${items.join(', ')}`;
  });

  await step('the finance user’s account is disabled from Équipe: its open session ends at once', async () => {
    const f = await openContext(browser);
    await f.page.goto(`${BASE_URL}/backoffice`);
    await logIn(f.page, finance.email, finance.password);
    await h1(f.page, 'Tableau de bord');
    await gotoMenu(page, 'Équipe');
    const row = page.locator('tbody tr', { hasText: finance.email });
    await row.getByRole('button', { name: /Désactiver/ }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.getByText('sera déconnecté tout de suite').waitFor();
    await dialog.getByRole('button', { name: 'Désactiver le compte' }).click();
    await page.locator('.notice', { hasText: `Le compte de ${finance.name} est désactivé` }).waitFor();
    await row.locator('.tag', { hasText: 'Désactivé' }).waitFor();
    await screen(page, 'equipe-desactive');
    await f.page.reload();
    await h1(f.page, 'Connexion à la console');
    await logIn(f.page, finance.email, finance.password);
    await f.page.locator('.error-summary').waitFor();
    await f.context.close();
  });

  await step('no error in the console but the refusals the screens expected and said', async () => {
    // A refused login (401) or a refused action (409) is logged by Chromium
    // as a failed load; each was shown to the agent as a French sentence.
    const real = problems.filter((p) => !/status of (401|409)/.test(p));
    check(real.length === 0, `console errors: ${real.join('; ')}`);
  });
} catch (e) {
  exitCode = 1;
  if (!(e instanceof Failure)) console.error(e);
} finally {
  await browser.close();
}
const { failed, text } = summary();
console.log(text);
process.exit(exitCode || failed ? 1 : 0);
