// backoffice-figures.mjs - the console's figures walked in Chromium against
// the real stack: the back-office reads the dashboard (its key figures must
// be the API's totals, each chart with its table), checks a CSV file (its bad
// lines shown by line and field) then runs the import to its end with the
// progress bar, reads a partner's and a pass's history; a finance clerk
// downloads the SEPA file of a pending request and marks it paid with its
// transfer reference; the partner then sees it paid in its own space and in
// its history. axe-core on every screen; screenshots at 1280 px and 390 px.
//
// Environment (tests/integration/test_web_backoffice_figures.py sets it):
//   SP_TEST_BASE_URL, SP_TEST_SCREENSHOTS
//   SP_TEST_BACKOFFICE_EMAIL, SP_TEST_BACKOFFICE_PASSWORD
//   SP_TEST_FINANCE_EMAIL, SP_TEST_FINANCE_PASSWORD
//   SP_TEST_PARTNER_EMAIL, SP_TEST_PARTNER_PASSWORD, SP_TEST_PARTNER_ID
//   SP_TEST_PASS_ID       a pass that paid that partner
//   SP_TEST_REQUEST_ID    the partner's pending refund request
//   SP_TEST_REQUEST_TOTAL_CENTS  its total
// Exit status 0 when every check passed.
import { readFileSync } from 'node:fs';
import { BASE_URL, Failure, axe, check, freshScreenshots, launch, openContext, plain, screenshot, journeySteps } from './lib.mjs';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Failure(`${name} is not set`);
  return value;
};
const BACKOFFICE = [env('SP_TEST_BACKOFFICE_EMAIL'), env('SP_TEST_BACKOFFICE_PASSWORD')];
const FINANCE = [env('SP_TEST_FINANCE_EMAIL'), env('SP_TEST_FINANCE_PASSWORD')];
const PARTNER = [env('SP_TEST_PARTNER_EMAIL'), env('SP_TEST_PARTNER_PASSWORD')];
const PARTNER_ID = env('SP_TEST_PARTNER_ID');
const PASS_ID = env('SP_TEST_PASS_ID');
const REQUEST_ID = env('SP_TEST_REQUEST_ID');
const REQUEST_TOTAL_CENTS = Number(env('SP_TEST_REQUEST_TOTAL_CENTS'));
const TRANSFER_REFERENCE = 'VIR-WEB-0001';
const PHONE = { width: 390, height: 844 };
const euros = new Intl.NumberFormat('fr-FR', { style: 'currency', currency: 'EUR' });
const money = (cents) => plain(euros.format(cents / 100));

const { step, summary } = journeySteps();

async function logIn(page, path, [email, password]) {
  await page.goto(`${BASE_URL}${path}`);
  await page.getByLabel('Adresse e-mail').fill(email);
  await page.getByLabel('Mot de passe', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Se connecter' }).click();
}

/** axe-core on the page as it is: no serious or critical violation. */
async function accessible(page, where) {
  const violations = await axe(page);
  check(violations.length === 0, `axe on ${where}: ${JSON.stringify(violations, null, 1)}`);
}

/** The page at a phone's width: no horizontal scrolling, axe clean, a picture. */
async function onPhone(page, name) {
  const size = page.viewportSize();
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(250);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 1, `${name} at 390 px scrolls sideways by ${overflow} px`);
  await accessible(page, `${name} at 390 px`);
  await screenshot(page, `${name}-390`);
  await page.setViewportSize(size);
  await page.waitForTimeout(150);
}

/** What the API answers this page's session (its cookie), as JSON. */
async function apiOfPage(page, path) {
  return page.evaluate(async (p) => {
    const response = await fetch(p, { headers: { Accept: 'application/json' } });
    return { status: response.status, json: await response.json() };
  }, path);
}

async function openAllTables(page) {
  for (const details of await page.locator('details.chart-table').all()) await details.evaluate((d) => d.setAttribute('open', ''));
}

freshScreenshots();
const browser = await launch();
let exitCode = 0;
try {
  const office = await openContext(browser, { bypassCSP: true });
  const page = office.page;

  await step('back-office: logs in and lands on the dashboard', async () => {
    await logIn(page, '/backoffice', BACKOFFICE);
    await page.locator('h1', { hasText: 'Tableau de bord' }).waitFor();
    await page.locator('[data-testid="figure-paid"]').waitFor();
  });

  await step('dashboard: the key figures are the API’s totals', async () => {
    const answer = await apiOfPage(page, '/api/v1/dashboard?days=90');
    check(answer.status === 200, `GET /api/v1/dashboard: ${answer.status}`);
    const d = answer.json;
    const sum = (rows, key) => rows.reduce((a, r) => a + r[key], 0);
    const expected = {
      paid: sum(d.payments_by_day, 'amount_cents'),
      available: sum(d.budget, 'available_cents'),
      credited: sum(d.budget, 'credited_cents'),
      pending: sum(d.refunds_by_month, 'pending_cents'),
    };
    for (const [key, cents] of Object.entries(expected)) {
      const shown = plain(await page.locator(`[data-testid="figure-${key}"]`).textContent());
      check(shown === money(cents), `figure ${key}: the page says ${shown}, the API ${money(cents)}`);
    }
    check(expected.paid >= 1250 + 2345 + 890, `the payments of this run are not in the dashboard: ${expected.paid}`);
    // Each chart: a picture named by its title and summary, and its table.
    for (const id of ['chart-payments', 'chart-budget', 'chart-owed', 'chart-refunds']) {
      const chart = page.locator(`[data-testid="${id}"]`);
      await chart.waitFor();
      check((await chart.locator('table caption').count()) === 1, `${id} has no table with a caption`);
    }
    check((await page.locator('[data-testid="chart-payments"] svg[role="img"] rect').count()) > 0, 'the payments chart draws no bar');
    // The budget table says, per category, what the API says.
    await openAllTables(page);
    // (columns: credited, spent, expired, reserved, available)
    const sport = d.budget.find((b) => b.category === 'sport');
    check(sport && sport.spent_cents >= 1250 + 2345 + 890, `no sport spending in the budget: ${JSON.stringify(sport)}`);
    const row = page.locator('[data-testid="chart-budget"] tbody tr', { hasText: 'Sport' });
    const cells = (await row.locator('td').allTextContents()).map(plain);
    const expectedCells = ['credited_cents', 'spent_cents', 'expired_cents', 'reserved_cents', 'available_cents'].map((k) => money(sport[k]));
    check(JSON.stringify(cells) === JSON.stringify(expectedCells), `budget row Sport: ${cells}, the API: ${expectedCells}`);
    // The partner owed most is in the ranked list with its amount.
    const top = d.partners_owed_most[0];
    const listed = plain(await page.locator('[data-testid="chart-owed"] .bar-list li').first().textContent());
    check(listed.includes(top.name) && listed.includes(money(top.owed_cents)), `owed most: ${listed}`);
    await accessible(page, 'dashboard (tables open)');
    await screenshot(page, 'tableau-de-bord-1280');
    await onPhone(page, 'tableau-de-bord');
    return `paid ${money(expected.paid)}, available ${money(expected.available)}`;
  });

  const stamp = Date.now();
  const csv = [
    'Nom;Prénom;E-mail',
    `Durand;Alice;alice.${stamp}@example.org`,
    `Moreau;Bruno;pas-une-adresse`,
    `Petit;Chloé;chloe.${stamp}@example.org`,
    `;Denis;denis.${stamp}@example.org`,
    `Leroy;Émile;alice.${stamp}@example.org`,
  ].join('\r\n');

  await step('import: the dry run shows the bad lines by line and field, writes nothing', async () => {
    await page.goto(`${BASE_URL}/backoffice/beneficiaires/import`);
    await page.locator('h1', { hasText: 'Inscrire des bénéficiaires depuis un fichier' }).waitFor();
    await accessible(page, 'import form');
    // Nothing chosen: the form says so beside the field, nothing is sent.
    await page.getByRole('button', { name: 'Vérifier le fichier' }).click();
    await page.locator('.error-summary', { hasText: 'Choisissez un fichier CSV.' }).waitFor();
    await page.locator('#f-file').setInputFiles({ name: 'beneficiaires.csv', mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') });
    await page.getByLabel('Montant par bénéficiaire').fill('40');
    await page.getByRole('button', { name: 'Vérifier le fichier' }).click();
    await page.locator('[data-testid="import-report"]').waitFor();
    const lines = plain(await page.locator('[data-testid="import-lines"]').textContent());
    check(lines.startsWith('2 ligne(s) valable(s) sur 5'), `report: ${lines}`);
    const bad = await page.locator('[data-testid="import-problems"] tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-line'))));
    for (const line of [3, 5, 6]) check(bad.includes(line), `line ${line} is not among the problems: ${bad}`);
    check(!bad.includes(2) && !bad.includes(4), `a good line is shown as a problem: ${bad}`);
    const enrolled = await apiOfPage(page, `/api/v1/beneficiaries?q=${stamp}`);
    check(enrolled.status === 200 && enrolled.json.total === 0, `the dry run enrolled someone: ${JSON.stringify(enrolled.json)}`);
    await accessible(page, 'import report');
    await screenshot(page, 'import-verification-1280');
    await onPhone(page, 'import-verification');
    return `problems on lines ${[...new Set(bad)].join(', ')}`;
  });

  await step('import: the run shows its progress and ends with its result', async () => {
    await page.getByRole('button', { name: /^Inscrire 2 bénéficiaires/ }).click();
    await page.waitForURL(/import=/);
    const progress = page.locator('[data-testid="import-progress"]');
    await progress.waitFor();
    check((await page.locator('progress#import-bar').count()) === 1 || (await progress.getAttribute('data-state')) !== 'running', 'no progress bar');
    await page.locator('[data-testid="import-progress"][data-state="done"]').waitFor({ timeout: 120000 });
    const enrolled = plain(await page.locator('[data-testid="import-enrolled"]').textContent());
    const credited = plain(await page.locator('[data-testid="import-credited"]').textContent());
    check(enrolled === '2' && credited === '2', `result: enrolled ${enrolled}, credited ${credited}`);
    const listed = await apiOfPage(page, `/api/v1/beneficiaries?q=${stamp}`);
    check(listed.json.total === 2 && listed.json.beneficiaries.every((b) => b.balance_cents === 4000), `after the run: ${JSON.stringify(listed.json)}`);
    await accessible(page, 'import result');
    await screenshot(page, 'import-resultat-1280');
    await onPhone(page, 'import-resultat');
  });

  await step('histories: a partner’s and a pass’s, in French sentences', async () => {
    await page.goto(`${BASE_URL}/backoffice/partenaires/${PARTNER_ID}/historique`);
    await page.locator('h1', { hasText: 'Historique' }).waitFor();
    await page.locator('[data-testid="history"] li').first().waitFor();
    const actions = await page.locator('[data-testid="history"] li').evaluateAll((items) => items.map((i) => i.getAttribute('data-action')));
    check(actions.includes('refund_requested'), `the partner's history lacks the refund request: ${actions}`);
    const sentence = plain(await page.locator('[data-testid="history"] li[data-action="refund_requested"]').first().textContent());
    check(sentence.includes('a demandé le remboursement'), `refund sentence: ${sentence}`);
    await accessible(page, 'partner history');
    await screenshot(page, 'historique-partenaire-1280');
    await page.goto(`${BASE_URL}/backoffice/pass/${PASS_ID}/historique`);
    await page.locator('h1', { hasText: 'Historique du Pass' }).waitFor();
    await page.locator('[data-testid="history"] li[data-action="payment_accepted"]').first().waitFor();
    await accessible(page, 'pass history');
    await screenshot(page, 'historique-pass-1280');
    await onPhone(page, 'historique-pass');
    return `${actions.length} lines for the partner`;
  });
  await office.context.close();

  const finance = await openContext(browser, { bypassCSP: true });
  const fpage = finance.page;
  await step('finance: logs in, sees only the dashboard and the refunds', async () => {
    await logIn(fpage, '/backoffice/remboursements', FINANCE);
    await fpage.locator('h1', { hasText: 'Remboursements' }).waitFor();
    const menu = (await fpage.locator('nav a').allTextContents()).map(plain);
    check(menu.includes('Tableau de bord') && menu.includes('Remboursements') && !menu.includes('Bénéficiaires'), `finance menu: ${menu}`);
  });

  await step('finance: selects the pending request and downloads its SEPA file', async () => {
    const row = fpage.locator(`tr[data-request-id="${REQUEST_ID}"]`);
    await row.waitFor();
    check(plain(await row.textContent()).includes(money(REQUEST_TOTAL_CENTS)), 'the request’s amount is not in its row');
    await accessible(fpage, 'refunds');
    await screenshot(fpage, 'remboursements-1280');
    await row.locator('input[type="checkbox"]').check();
    await fpage.locator('[data-testid="selection"]', { hasText: money(REQUEST_TOTAL_CENTS) }).waitFor();
    const [download] = await Promise.all([fpage.waitForEvent('download'), fpage.getByRole('button', { name: 'Télécharger le fichier SEPA' }).click()]);
    const name = download.suggestedFilename();
    check(/^sepa-.*\.xml$/.test(name), `file name: ${name}`);
    const xml = readFileSync(await download.path(), 'utf8');
    check(xml.includes(`<EndToEndId>${REQUEST_ID.replace(/-/g, '')}</EndToEndId>`), 'the file does not pay this request');
    check(xml.includes(`<CtrlSum>${(REQUEST_TOTAL_CENTS / 100).toFixed(2)}</CtrlSum>`), 'the file’s total is not the request’s');
    await fpage.locator('.notice-success', { hasText: name }).waitFor();
    await screenshot(fpage, 'remboursements-sepa-1280');
    return name;
  });

  await step('finance: marks the request paid with its transfer reference', async () => {
    const row = fpage.locator(`tr[data-request-id="${REQUEST_ID}"]`);
    await row.getByRole('button', { name: /Marquer payée/ }).click();
    const dialog = fpage.locator('dialog[open]');
    await dialog.waitFor();
    // A reference SEPA refuses is said beside its field.
    await dialog.getByLabel('Référence du virement').fill('VIR_1');
    await dialog.getByRole('button', { name: 'Enregistrer le paiement' }).click();
    await dialog.locator('.error-message').first().waitFor();
    await accessible(fpage, 'mark paid dialog (error)');
    await screenshot(fpage, 'remboursements-marquer-payee-1280');
    await dialog.getByLabel('Référence du virement').fill(TRANSFER_REFERENCE);
    await dialog.getByRole('button', { name: 'Enregistrer le paiement' }).click();
    await fpage.locator('dialog[open]').waitFor({ state: 'detached' }).catch(() => undefined);
    await fpage.locator('.notice-success', { hasText: 'marquée payée' }).waitFor();
    // Pending is the default filter: it left the list; shown under "Payée".
    await fpage.goto(`${BASE_URL}/backoffice/remboursements?etat=paid`);
    const paid = fpage.locator(`tr[data-request-id="${REQUEST_ID}"]`);
    await paid.waitFor();
    const text = plain(await paid.textContent());
    check(text.includes('Payée') && text.includes(TRANSFER_REFERENCE), `paid row: ${text}`);
    await accessible(fpage, 'refunds paid');
    await onPhone(fpage, 'remboursements-payees');
  });

  await step('finance: the dashboard is open to finance too', async () => {
    await fpage.goto(`${BASE_URL}/backoffice`);
    await fpage.locator('[data-testid="figure-pending"]').waitFor();
    await accessible(fpage, 'dashboard (finance)');
  });
  await finance.context.close();

  const partner = await openContext(browser, { bypassCSP: true });
  const ppage = partner.page;
  await step('partner: sees the request paid in its space, and in its history', async () => {
    await logIn(ppage, '/partenaire/remboursements', PARTNER);
    await ppage.locator('h1', { hasText: 'Remboursements' }).waitFor();
    const row = ppage.locator('tr', { hasText: money(REQUEST_TOTAL_CENTS) }).first();
    await row.waitFor();
    check(plain(await row.textContent()).includes('Payée'), `partner's row: ${plain(await row.textContent())}`);
    await ppage.goto(`${BASE_URL}/partenaire/historique`);
    await ppage.locator('h1', { hasText: 'Historique de la structure' }).waitFor();
    const paid = ppage.locator('[data-testid="history"] li[data-action="refund_paid"]').first();
    await paid.waitFor();
    check(plain(await paid.textContent()).includes(TRANSFER_REFERENCE), `refund_paid sentence: ${plain(await paid.textContent())}`);
    await accessible(ppage, 'partner history');
    await screenshot(ppage, 'partenaire-historique-1280');
    await onPhone(ppage, 'partenaire-historique');
  });
  await partner.context.close();

  await step('no script or CSP error on any screen', async () => {
    // A refused form answers 4xx, which the console reports as a failed load.
    const real = [office.problems, finance.problems, partner.problems].flat().filter((p) => !/status of 4\d\d/.test(p));
    check(real.length === 0, `console errors: ${real.join('\n')}`);
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
