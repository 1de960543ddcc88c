// backoffice-figures.mjs - the console's figures walked in Chromium against
// the real stack: the back-office reads the dashboard (its key figures must
// be the API's totals, each chart with its table), checks a CSV file of 200
// people and 3 bad lines (the bad lines shown by line and field) then runs
// the import to its end with the progress bar, sees the credits in the
// dashboard's figures (still the API's), sends the same file again and
// enrols no one twice, reads a partner's and a pass's history; the import,
// the refunds and the dashboard with the keyboard alone; a finance clerk
// downloads the SEPA file of a pending request (valid against the schema
// subset, by xmllint) and marks it paid with its transfer reference; the
// partner then sees it paid in its own space and in its history. axe-core
// on every screen; screenshots at 1280 px and 390 px, and the pictures of
// docs/guide-backoffice.md when SP_GUIDE_DIR is set.
//
// Environment (tests/integration/test_web_backoffice_figures.py sets it):
//   SP_TEST_BASE_URL, SP_TEST_SCREENSHOTS
//   SP_TEST_BACKOFFICE_EMAIL, SP_TEST_BACKOFFICE_PASSWORD
//   SP_TEST_FINANCE_EMAIL, SP_TEST_FINANCE_PASSWORD
//   SP_TEST_PARTNER_EMAIL, SP_TEST_PARTNER_PASSWORD, SP_TEST_PARTNER_ID
//   SP_TEST_PASS_ID       a pass that paid that partner
//   SP_TEST_REQUEST_ID    the partner's pending refund request
//   SP_TEST_REQUEST_TOTAL_CENTS  its total
//   SP_TEST_CLOCK_OFFSET_MS  the services' clock offset (the browser's clock is set to it)
// Exit status 0 when every check passed.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_URL, Failure, REPO, axe, check, downloadFrom, freshScreenshots, guideShot, launch, openContext, plain, screenAfter, screenshot, journeySteps } from './lib.mjs';

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
const SEPA_XSD = join(REPO, 'tests', 'integration', 'pain.001.001.03.subset.xsd');
const IMPORT_PEOPLE = 200;
const IMPORT_CENTS = 4000;

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

/** The dashboard's four key figures as the API's rows add them up. */
async function dashboardTotals(page) {
  const answer = await apiOfPage(page, '/api/v1/dashboard?days=90');
  check(answer.status === 200, `GET /api/v1/dashboard: ${answer.status}`);
  const d = answer.json;
  const sum = (rows, key) => rows.reduce((a, r) => a + r[key], 0);
  const totals = {
    paid: sum(d.payments_by_day, 'amount_cents'),
    available: sum(d.budget, 'available_cents'),
    credited: sum(d.budget, 'credited_cents'),
    pending: sum(d.refunds_by_month, 'pending_cents'),
  };
  return { d, totals };
}

/** The page's key figures say the API's totals. */
async function figuresAreTheApis(page, totals) {
  for (const [key, cents] of Object.entries(totals)) {
    const shown = plain(await page.locator(`[data-testid="figure-${key}"]`).textContent());
    check(shown === money(cents), `figure ${key}: the page says ${shown}, the API ${money(cents)}`);
  }
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

  let creditedBefore = 0;
  await step('dashboard: the key figures are the API’s totals', async () => {
    const { d, totals: expected } = await dashboardTotals(page);
    await figuresAreTheApis(page, expected);
    creditedBefore = expected.credited;
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
    // Its sentence agrees with the count: one partner is "le seul", never "Les 1 premiers".
    const owedCount = d.partners_owed_most.filter((p) => p.owed_cents > 0).length;
    const owedSentence = plain(await page.locator('[data-testid="chart-owed"] .chart-summary').textContent());
    const agrees = owedCount === 1 ? owedSentence.includes('le seul partenaire') : owedSentence.includes(`Les ${owedCount} premiers`);
    check(agrees, `owed most, ${owedCount} partners: ${owedSentence}`);
    await accessible(page, 'dashboard (tables open)');
    await screenshot(page, 'tableau-de-bord-1280');
    await guideShot(page, 'tableau-de-bord');
    await guideShot(page, 'tableau-de-bord-budget', page.locator('[data-testid="chart-budget"]'));
    await onPhone(page, 'tableau-de-bord');
    return `paid ${money(expected.paid)}, available ${money(expected.available)}`;
  });

  // 200 people as a CCAS's software exports them, and 3 bad lines: an
  // e-mail that is none, a missing name, an e-mail given twice.
  const stamp = Date.now();
  const people = Array.from({ length: IMPORT_PEOPLE }, (_, i) => `Martin${i};Léa;lea.${stamp}.${i}@example.org`);
  const badLines = [
    [4, 'Moreau;Bruno;pas-une-adresse'],
    [77, `;Denis;denis.${stamp}@example.org`],
    [150, `Leroy;Émile;lea.${stamp}.0@example.org`],
  ];
  for (const [line, text] of badLines) people.splice(line - 2, 0, text);   // line 1 is the header
  const csv = ['Nom;Prénom;E-mail', ...people].join('\r\n');
  const csvFile = { name: 'beneficiaires.csv', mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') };
  const enrolledOfRun = async () => (await apiOfPage(page, `/api/v1/beneficiaries?q=${stamp}&limit=100`)).json;

  await step('import: the dry run shows the bad lines by line and field, writes nothing', async () => {
    await page.goto(`${BASE_URL}/backoffice/beneficiaires/import`);
    await page.locator('h1', { hasText: 'Inscrire des bénéficiaires depuis un fichier' }).waitFor();
    await accessible(page, 'import form');
    // Nothing chosen: the form says so beside the field, nothing is sent.
    await page.getByRole('button', { name: 'Vérifier le fichier' }).click();
    await page.locator('.error-summary', { hasText: 'Choisissez un fichier CSV.' }).waitFor();
    await page.locator('#f-file').setInputFiles(csvFile);
    await page.getByLabel('Montant par bénéficiaire').fill('40');
    await page.getByRole('button', { name: 'Vérifier le fichier' }).click();
    await page.locator('[data-testid="import-report"]').waitFor();
    const lines = plain(await page.locator('[data-testid="import-lines"]').textContent());
    check(lines.startsWith(`${IMPORT_PEOPLE} lignes valables sur ${IMPORT_PEOPLE + 3}`), `report: ${lines}`);
    const bad = await page.locator('[data-testid="import-problems"] tbody tr').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-line'))));
    check(JSON.stringify([...new Set(bad)].sort((a, b) => a - b)) === JSON.stringify(badLines.map(([line]) => line)), `the problems are on lines ${bad}, not ${badLines.map(([l]) => l)}`);
    const enrolled = await enrolledOfRun();
    check(enrolled.total === 0, `the dry run enrolled someone: ${JSON.stringify(enrolled)}`);
    await accessible(page, 'import report');
    await screenshot(page, 'import-verification-1280');
    await guideShot(page, 'import-verification', page.locator('[data-testid="import-report"]'));
    await onPhone(page, 'import-verification');
    return `problems on lines ${[...new Set(bad)].join(', ')}`;
  });

  await step('import: the run shows its progress and ends with its result', async () => {
    await page.getByRole('button', { name: new RegExp(`^Inscrire ${IMPORT_PEOPLE} bénéficiaires`) }).click();
    await page.waitForURL(/import=/);
    // Once the page has the job (running, or already done), its bar is drawn.
    await page.locator('[data-testid="import-progress"]:not([data-state="loading"])').waitFor();
    check((await page.locator('progress#import-bar').count()) === 1, 'no progress bar');
    await page.locator('[data-testid="import-progress"][data-state="done"]').waitFor({ timeout: 120000 });
    const enrolled = plain(await page.locator('[data-testid="import-enrolled"]').textContent());
    const credited = plain(await page.locator('[data-testid="import-credited"]').textContent());
    check(enrolled === String(IMPORT_PEOPLE) && credited === String(IMPORT_PEOPLE), `result: enrolled ${enrolled}, credited ${credited}`);
    const listed = await enrolledOfRun();
    check(listed.total === IMPORT_PEOPLE && listed.beneficiaries.every((b) => b.balance_cents === IMPORT_CENTS), `after the run: ${listed.total} enrolled`);
    await accessible(page, 'import result');
    await screenshot(page, 'import-resultat-1280');
    await guideShot(page, 'import-resultat', page.locator('[data-testid="import-progress"]'));
    await onPhone(page, 'import-resultat');
  });

  await step('dashboard: the import’s credits are in the figures, still the API’s', async () => {
    // The figures follow the log: the last credits may still be on their way.
    let totals = null;
    for (let i = 0; i < 40; i += 1) {
      ({ totals } = await dashboardTotals(page));
      if (totals.credited >= creditedBefore + IMPORT_PEOPLE * IMPORT_CENTS) break;
      await page.waitForTimeout(250);
    }
    check(totals.credited - creditedBefore === IMPORT_PEOPLE * IMPORT_CENTS, `credited grew by ${money(totals.credited - creditedBefore)}, not ${money(IMPORT_PEOPLE * IMPORT_CENTS)}`);
    await page.goto(`${BASE_URL}/backoffice`);
    await page.locator('[data-testid="figure-credited"]').waitFor();
    await figuresAreTheApis(page, totals);
    return `credited ${money(totals.credited)}`;
  });

  await step('import: the same file again enrols and credits no one twice', async () => {
    await page.goto(`${BASE_URL}/backoffice/beneficiaires/import`);
    await page.locator('#f-file').setInputFiles(csvFile);
    await page.getByLabel('Montant par bénéficiaire').fill('40');
    await page.getByRole('button', { name: 'Vérifier le fichier' }).click();
    await page.locator('[data-testid="import-report"]').waitFor();
    const lines = plain(await page.locator('[data-testid="import-lines"]').textContent());
    check(lines.startsWith(`0 ligne valable sur ${IMPORT_PEOPLE + 3}`), `the dry run of the same file: ${lines}`);
    check((await page.getByRole('button', { name: /^Inscrire \d+ bénéficiaires/ }).count()) === 0, 'the report offers to enrol them again');
    // A retried upload (a lost answer, another tab) reaches the API all the same.
    const again = await page.evaluate(async (body) => {
      const response = await fetch(`/api/v1/beneficiaries/imports?category=general&amount_cents=${4000}`, {
        method: 'POST', body, headers: { 'Content-Type': 'text/csv', 'Idempotency-Key': crypto.randomUUID(), Accept: 'application/json' },
      });
      return { status: response.status, json: await response.json() };
    }, csv);
    check(again.status === 202, `the upload sent again: ${again.status} ${JSON.stringify(again.json)}`);
    let job = again.json;
    for (let i = 0; i < 240 && job.state !== 'done'; i += 1) {
      await page.waitForTimeout(250);
      job = (await apiOfPage(page, `/api/v1/beneficiaries/imports/${job.import_id}`)).json;
    }
    check(job.state === 'done', `the second run did not end: ${JSON.stringify(job).slice(0, 300)}`);
    const listed = await enrolledOfRun();
    check(listed.total === IMPORT_PEOPLE, `after the same file again: ${listed.total} enrolled`);
    let page2 = listed;
    const balances = [...listed.beneficiaries];
    while (page2.next_cursor) {
      page2 = (await apiOfPage(page, `/api/v1/beneficiaries?q=${stamp}&limit=100&cursor=${page2.next_cursor}`)).json;
      balances.push(...page2.beneficiaries);
    }
    check(balances.length === IMPORT_PEOPLE && balances.every((b) => b.balance_cents === IMPORT_CENTS), 'a pass was credited twice');
    return `second run: enrolled ${job.enrolled}, credited ${job.credited}, skipped ${job.skipped}`;
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
    await guideShot(page, 'historique-pass', null, 560);
    await onPhone(page, 'historique-pass');
    return `${actions.length} lines for the partner`;
  });
  await office.context.close();

  await step('keyboard only (Tab, Enter, Space, typing): the dashboard, an import, the refunds and a SEPA file', async () => {
    // This context keeps the page's CSP: a violation would be a console error.
    const k = await openContext(browser);
    const p = k.page;
    const tabTo = async (predicate, what, max = 80, arg = null) => {
      for (let i = 0; i < max; i += 1) {
        await p.keyboard.press('Tab');
        if (await p.evaluate(predicate, arg)) return;
      }
      throw new Failure(`Tab never reached ${what}`);
    };
    const h1 = (text) => p.locator('h1', { hasText: text }).waitFor();
    await p.goto(`${BASE_URL}/backoffice`);
    await h1('Connexion à la console');
    await tabTo(() => document.activeElement?.id === 'f-email', 'the e-mail field');
    await p.keyboard.type(BACKOFFICE[0]);
    await p.keyboard.press('Tab');
    await p.keyboard.type(BACKOFFICE[1]);
    const typed = await p.evaluate(() => [document.querySelector('#f-email')?.value, document.activeElement?.id]);
    check(typed[0] === BACKOFFICE[0], `the e-mail field holds “${typed[0]}” after typing, the focus is on #${typed[1]}`);
    await p.keyboard.press('Enter');
    await screenAfter(p, 'Tableau de bord');
    // The dashboard: another period, then a chart's table opened.
    await tabTo(() => document.activeElement?.id === 'dashboard-days', 'the period');
    await p.keyboard.type('30');
    const period = await p.evaluate(() => document.querySelector('#dashboard-days')?.value);
    check(period === '30', `the period holds ${period} after typing 30`);
    await p.keyboard.press('Tab');
    await p.keyboard.press('Enter');
    await p.waitForURL(/jours=30/);
    await tabTo(() => document.activeElement?.tagName === 'SUMMARY', 'a chart’s table');
    await p.keyboard.press('Enter');
    check(await p.evaluate(() => document.activeElement?.parentElement?.hasAttribute('open')), 'Enter did not open the chart’s table');
    // An import of one person (and one bad line), checked then run.
    await tabTo(() => document.activeElement?.textContent === 'Inscrire des bénéficiaires depuis un fichier CSV', 'the import link');
    await p.keyboard.press('Enter');
    await h1('Inscrire des bénéficiaires depuis un fichier');
    await tabTo(() => document.activeElement?.id === 'f-file', 'the file field');
    const small = ['nom,prenom,email', `Keita,Moussa,moussa.${stamp}@example.org`, 'Keita,Awa,awa-sans-arobase'].join('\n');
    const [chooser] = await Promise.all([p.waitForEvent('filechooser'), p.keyboard.press('Space')]);
    await chooser.setFiles({ name: 'un.csv', mimeType: 'text/csv', buffer: Buffer.from(small, 'utf8') });
    await tabTo(() => document.activeElement?.id === 'f-amount_cents', 'the amount');
    await p.keyboard.type('25');
    await p.keyboard.press('Enter');
    await p.locator('[data-testid="import-report"]').waitFor();
    await p.waitForFunction(() => document.activeElement?.id === 'import-report-title', null, { timeout: 3000 })
      .catch(() => { throw new Failure('the focus did not move to the report'); });
    await tabTo(() => /^Inscrire 1 bénéficiaire /.test(document.activeElement?.textContent ?? ''), 'the run button');
    await p.keyboard.press('Enter');
    await p.locator('[data-testid="import-progress"][data-state="done"]').waitFor({ timeout: 60000 });
    check(plain(await p.locator('[data-testid="import-enrolled"]').textContent()) === '1', 'the keyboard import did not enrol its one person');
    // The refunds: the pending request chosen with Space, its SEPA file with Enter.
    await tabTo(() => document.activeElement?.tagName === 'A' && document.activeElement.textContent === 'Remboursements', 'the Remboursements link');
    await p.keyboard.press('Enter');
    await h1('Remboursements');
    await p.locator(`tr[data-request-id="${REQUEST_ID}"]`).waitFor();
    await tabTo((id) => document.activeElement?.closest('tr')?.getAttribute('data-request-id') === id && document.activeElement.type === 'checkbox', 'the request’s box', 120, REQUEST_ID);
    await p.keyboard.press('Space');
    await p.locator('[data-testid="selection"]', { hasText: money(REQUEST_TOTAL_CENTS) }).waitFor();
    await tabTo(() => document.activeElement?.textContent === 'Télécharger le fichier SEPA', 'the SEPA button', 120);
    const download = await downloadFrom(p, () => p.keyboard.press('Enter'));
    check(readFileSync(await download.path(), 'utf8').includes(`<EndToEndId>${REQUEST_ID.replace(/-/g, '')}</EndToEndId>`), 'the keyboard’s SEPA file does not pay the request');
    const real = k.problems.filter((x) => !/status of 401/.test(x));
    check(real.length === 0, `console errors with the CSP on: ${real.join('; ')}`);
    await k.context.close();
  });

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
    check(plain(await row.textContent()).includes('Judo Élan'), 'the request’s row does not name its partner');
    await accessible(fpage, 'refunds');
    await screenshot(fpage, 'remboursements-1280');
    await guideShot(fpage, 'remboursements');
    await onPhone(fpage, 'remboursements');
    await row.locator('input[type="checkbox"]').check();
    await fpage.locator('[data-testid="selection"]', { hasText: money(REQUEST_TOTAL_CENTS) }).waitFor();
    const download = await downloadFrom(fpage, () => fpage.getByRole('button', { name: 'Télécharger le fichier SEPA' }).click());
    const name = download.suggestedFilename();
    check(/^sepa-.*\.xml$/.test(name), `file name: ${name}`);
    const xml = readFileSync(await download.path(), 'utf8');
    check(xml.includes(`<EndToEndId>${REQUEST_ID.replace(/-/g, '')}</EndToEndId>`), 'the file does not pay this request');
    check(xml.includes(`<CtrlSum>${(REQUEST_TOTAL_CENTS / 100).toFixed(2)}</CtrlSum>`), 'the file’s total is not the request’s');
    try {
      execFileSync('xmllint', ['--noout', '--schema', SEPA_XSD, await download.path()], { stdio: 'pipe', timeout: 60000 });
    } catch (e) {
      throw new Failure(`the downloaded SEPA file is not valid against the schema subset: ${e.stderr ?? e.message}`);
    }
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
    await guideShot(fpage, 'remboursements-marquer-payee', dialog);
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
