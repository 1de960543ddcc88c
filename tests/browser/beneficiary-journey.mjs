// beneficiary-journey.mjs - the beneficiary app walked in Chromium against
// the real stack, on a phone-sized screen (360 px): log in, the pass with its
// envelopes and the one that ends soon, the URL decoded from the partner's
// poster QR code opened logged out (login, then back to it), the partner
// shown, an amount above the envelope refused, 12,50 typed, the confirmation
// naming the envelope, the proof (a double tap pays once), the home balance
// lowered, the history reopening the proof, a voucher created (number, QR,
// print page whose QR code zbarimg decodes), redeemed by the partner and
// shown used, another cancelled; Chromium's installability check and the
// service worker; offline: paying says it needs the network and sends
// nothing, the app opens on the last balance with its time, and reads it
// again once online; a mistyped code said as typed; a payment by keyboard
// alone; a lost answer retried with the same key and paid once; the scan in
// the app; the partner space sending a beneficiary to its app; the
// directory. axe-core on every screen.
//
// Environment (tests/integration/test_web_beneficiary.py sets it):
//   SP_TEST_BASE_URL        the gateway
//   SP_TEST_PARTNER_CODE, SP_TEST_PARTNER_NAME, SP_TEST_PARTNER_ADDRESS  a sport partner
//   SP_TEST_PAYMENT_URL     what its poster's QR code holds (decoded by zbarimg)
//   SP_TEST_PARTNER_EMAIL, SP_TEST_PARTNER_PASSWORD  its administrator (redeems a voucher)
//   SP_TEST_BENEFICIARY_EMAIL, SP_TEST_BENEFICIARY_PASSWORD  a pass with a sport
//     envelope of 80,00 € ending within 30 days and a general one of 50,00 €
//   SP_TEST_CLOCK_OFFSET_MS the services' clock offset (the phone's clock is set to it)
//   SP_TEST_CLOSED_EMAIL    a beneficiary whose pass the city closed (same password)
//   SP_TEST_SCREENSHOTS     where to save a screenshot per screen
// Exit status 0 when every check passed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE_URL, Failure, api, apiLogin, axe, check, freshScreenshots, launch, log, newKey, openContext, journeySteps, plain, screenAfter, screenshot } from './lib.mjs';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Failure(`${name} is not set`);
  return value;
};
const PARTNER_CODE = env('SP_TEST_PARTNER_CODE');
const PARTNER_NAME = env('SP_TEST_PARTNER_NAME');
const PARTNER_ADDRESS = env('SP_TEST_PARTNER_ADDRESS');
const PAYMENT_URL = env('SP_TEST_PAYMENT_URL');
const PARTNER_EMAIL = env('SP_TEST_PARTNER_EMAIL');
const PARTNER_PASSWORD = env('SP_TEST_PARTNER_PASSWORD');
const EMAIL = env('SP_TEST_BENEFICIARY_EMAIL');
const PASSWORD = env('SP_TEST_BENEFICIARY_PASSWORD');
const CLOSED_EMAIL = env('SP_TEST_CLOSED_EMAIL');
const PHONE = { width: 360, height: 740 };
// openContext sets the phone's clock to the services' (SP_TEST_CLOCK_OFFSET_MS):
// the phone must see the same day as the ledger, or "ends within 30 days"
// means nothing.
const phoneContext = openContext;

const { step, summary } = journeySteps();

const screens = [];
/** A screenshot and axe-core on the screen: no serious or critical violation. */
async function screen(page, name) {
  await screenshot(page, name);
  const violations = await axe(page);
  check(violations.length === 0, `axe on ${name}: ${JSON.stringify(violations)}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, `${name} is wider than the screen by ${overflow} px`);
  screens.push(name);
}

async function logIn(page, email, password) {
  await page.getByLabel('Adresse e-mail').fill(email);
  await page.getByLabel('Mot de passe', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Se connecter' }).click();
}

const h1 = (page, text) => page.locator('h1', { hasText: text }).first().waitFor();
const euros = (text) => plain(text).replace(/\u202f|\u00a0/g, ' ');

freshScreenshots();
const browser = await launch();
let exitCode = 0;
try {
  const token = await apiLogin(EMAIL, PASSWORD);
  const before = await api('GET', '/api/v1/pass', { token });
  check(before.status === 200, `the pass over the API: ${before.status}`);
  const sportBefore = before.json.envelopes.find((e) => e.category === 'sport').balance_cents;

  // bypassCSP only to inject axe-core; the app itself never needs it.
  const main = await phoneContext(browser, { viewport: PHONE, bypassCSP: true });
  const { page, context, problems, requests } = main;
  const payments = () => requests.filter((r) => r.method === 'POST' && r.url.endsWith('/api/v1/pass/payments')).length;
  let operationId = '';
  let receipt = '';

  await step('log in at 360 px: the home shows both envelopes in words, their end dates, the notice and the total', async () => {
    await page.goto(`${BASE_URL}/beneficiaire`);
    await h1(page, 'Connexion à mon Pass');
    await screen(page, 'connexion');
    await logIn(page, EMAIL, PASSWORD);
    await h1(page, 'Mon Pass solidarité');
    await page.locator('.total-amount').waitFor();
    const text = euros(await page.locator('main').textContent());
    check(text.includes('Sport') && text.includes('Général (tous les partenaires)'), `the envelopes are not named in words: ${text}`);
    check(text.includes('80,00 €') && text.includes('50,00 €') && text.includes('130,00 €'), `amounts or total missing: ${text}`);
    check(/Utilisable jusqu’au \d\d\/\d\d\/\d{4} inclus/.test(text) && text.includes('Sans date de fin'), `end dates missing: ${text}`);
    check(text.includes('Un budget se termine bientôt') && /Votre budget Sport \(80,00 €\) se termine le/.test(text), `no notice of the ending envelope: ${text}`);
    check(/Solde au \d\d\/\d\d à \d\d:\d\d/.test(text), `the balance has no time: ${text}`);
    await screen(page, 'accueil');
  });

  await step('the poster\'s QR code (decoded) opened logged out: login, then back to the payment page; the partner shown', async () => {
    await page.getByRole('button', { name: 'Se déconnecter' }).click();
    await h1(page, 'Connexion à mon Pass');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
    check(!stored.includes('balance_cents'), 'the pass stays on the phone after logout');
    check(PAYMENT_URL === `${BASE_URL}/payer/${PARTNER_CODE}`, `the poster's QR code holds ${PAYMENT_URL}`);
    await page.goto(PAYMENT_URL);
    await h1(page, 'Connexion à mon Pass');
    check(page.url().includes(`retour=${encodeURIComponent(`/payer/${PARTNER_CODE}`)}`), `no way back to the payment page: ${page.url()}`);
    await page.getByText('Connectez-vous pour payer ce partenaire').waitFor();
    await screen(page, 'connexion-pour-payer');
    await logIn(page, EMAIL, PASSWORD);
    await page.waitForURL(`**/payer/${PARTNER_CODE}`);
    await h1(page, 'Payer un partenaire');
    const card = euros(await page.locator('.partner-card').textContent());
    check(card.includes(PARTNER_NAME) && card.includes(PARTNER_ADDRESS) && card.includes('Sport'), `the partner is not shown: ${card}`);
    await page.getByText('Payé avec votre budget Sport (solde 80,00 €)').waitFor();
    await screen(page, 'payer-partenaire');
  });

  await step('an amount above the envelope is refused with its balance, before anything is sent', async () => {
    await page.getByLabel('Montant à payer, en euros').fill('80,01');
    await page.getByRole('button', { name: 'Vérifier le paiement' }).click();
    await page.locator('.error-summary', { hasText: 'dépasse le solde de ce budget : 80,00 €' }).waitFor();
    check(payments() === 0, 'a payment was sent');
  });

  await step('12,50 typed → the confirmation names the envelope and its balance after → the proof (a double tap pays once)', async () => {
    await page.getByLabel('Montant à payer, en euros').fill('12,50');
    await page.getByRole('button', { name: 'Vérifier le paiement' }).click();
    await h1(page, 'Confirmer le paiement');
    const text = euros(await page.locator('main').textContent());
    check(text.includes(PARTNER_NAME) && text.includes('12,50 €') && text.includes('Budget utiliséSport') && text.includes('67,50 €'), `the confirmation: ${text}`);
    await screen(page, 'confirmation');
    await page.getByRole('button', { name: 'Payer 12,50 €' }).dblclick();
    await h1(page, 'Paiement accepté');
    check(payments() === 1, `${payments()} payment requests for a double tap`);
    const proof = euros(await page.locator('[data-testid="proof"]').textContent());
    check(proof.includes('12,50 €') && proof.includes(PARTNER_NAME) && proof.includes('67,50 €') && proof.includes('117,50 €'), `the proof: ${proof}`);
    check(/\d\d\/\d\d\/\d{4} à \d\d:\d\d/.test(proof), `the proof has no date and time: ${proof}`);
    operationId = (await page.locator('.reference').textContent()).trim();
    check(/^[0-9a-f-]{36}$/.test(operationId), `no operation reference: ${operationId}`);
    const after = await api('GET', '/api/v1/pass', { token });
    check(after.json.envelopes.find((e) => e.category === 'sport').balance_cents === sportBefore - 1250, 'the ledger did not take 12,50 € from the sport envelope');
    // The signed receipt: its QR code (as a partner's phone reads it) holds its text, which verifies.
    receipt = (await page.locator('[data-testid="receipt-text"]').textContent()).trim();
    check(receipt.startsWith('SPR1.'), `the proof shows no receipt: ${receipt}`);
    await page.waitForFunction(() => document.querySelector('img.receipt-qr')?.naturalWidth > 0);
    const qrPicture = join(mkdtempSync(join(tmpdir(), 'solipass-recu-')), 'recu.png');
    await page.locator('img.receipt-qr').screenshot({ path: qrPicture });
    const read = execFileSync('zbarimg', ['-q', '--raw', qrPicture], { encoding: 'utf8' }).trim();
    check(read === receipt, `the receipt's QR code holds ${read}`);
    const verified = await api('POST', '/api/v1/receipts/verify', { body: { receipt } });
    check(verified.json.valid === true && verified.json.amount_cents === 1250 && verified.json.operation_id === operationId, `the receipt does not verify: ${verified.text}`);
    await screen(page, 'preuve');
  });

  await step('back home: the balance is lowered; the history shows the payment and reopens its proof', async () => {
    await page.getByRole('link', { name: 'Retour à mon Pass' }).click();
    await h1(page, 'Mon Pass solidarité');
    await page.locator('.total-amount', { hasText: '117,50' }).waitFor();
    check(await page.evaluate(() => document.activeElement?.tagName === 'H1'), 'the focus did not move to the heading');
    await page.locator('nav a', { hasText: 'Historique' }).click();
    await h1(page, 'Historique');
    const item = page.locator(`li[data-operation-id="${operationId}"]`);
    await item.waitFor();
    const text = euros(await item.textContent());
    check(text.includes('Paiement') && text.includes('12,50 €') && text.includes('117,50 €'), `the history line: ${text}`);
    await screen(page, 'historique');
    await item.getByRole('link', { name: /Voir la preuve/ }).click();
    await h1(page, 'Paiement accepté');
    check((await page.locator('.reference').textContent()).trim() === operationId, 'the reopened proof is another operation');
    check(euros(await page.locator('[data-testid="proof"]').textContent()).includes(PARTNER_NAME), 'the reopened proof does not name the partner');
    check((await page.locator('[data-testid="receipt-text"]').textContent()).trim() === receipt, 'the reopened proof shows another receipt');
    await screen(page, 'preuve-historique');
  });

  await step('a voucher created: its number and QR code shown, printable, redeemed by the partner and shown used; another cancelled', async () => {
    await page.locator('nav a', { hasText: 'Bons d’échange' }).click();
    await h1(page, 'Bons d’échange');
    await page.getByLabel('Montant du bon, en euros').waitFor();
    await screen(page, 'bons');
    await page.getByLabel('Montant du bon, en euros').fill('15');
    await page.getByLabel('Budget à utiliser').selectOption('sport');
    await page.getByRole('button', { name: 'Créer le bon' }).click();
    await h1(page, 'Bon d’échange créé');
    const number = (await page.locator('[data-testid="voucher-number"]').textContent()).trim();
    check(/^\d{4} \d{4} \d{4} \d{4}$/.test(number), `the voucher number: ${number}`);
    await page.waitForFunction(() => document.querySelector('img.voucher-qr')?.naturalWidth > 0);
    const listed = await api('GET', '/api/v1/pass/vouchers', { token });
    check(listed.json.vouchers.some((v) => v.number === number.replace(/ /g, '') && v.status === 'active' && v.amount_cents === 1500), 'the voucher is not on the pass');
    await screen(page, 'bon-cree');
    const printHref = await page.getByRole('link', { name: 'Imprimer le bon' }).getAttribute('href');
    const print = await context.newPage();
    await print.goto(BASE_URL + printHref);
    check(plain(await print.locator('body').textContent()).includes(number), 'the print page does not show the number');
    // Its QR code, as a partner's scanner reads it from the paper.
    const picture = join(mkdtempSync(join(tmpdir(), 'solipass-bon-')), 'bon.png');
    await print.screenshot({ path: picture, fullPage: true });
    const decoded = execFileSync('zbarimg', ['-q', '--raw', picture], { encoding: 'utf8' }).trim();
    check(decoded === number.replace(/ /g, ''), `the printed QR code holds ${decoded}`);
    await print.close();
    // The partner redeems it: the app then shows it used.
    const partnerToken = await apiLogin(PARTNER_EMAIL, PARTNER_PASSWORD);
    const redeemed = await api('POST', '/api/v1/partner/vouchers/redeem', { token: partnerToken, key: newKey(), body: { number } });
    check(redeemed.status === 201, `the partner's redemption: ${redeemed.status} ${redeemed.text}`);
    await page.reload();
    await h1(page, 'Bon d’échange');
    await page.locator('.voucher .tag', { hasText: 'Utilisé' }).waitFor();
    check(!(await page.getByRole('button', { name: 'Annuler ce bon' }).count()), 'a used voucher can be cancelled');
    // A second one, cancelled by the beneficiary.
    await page.getByRole('link', { name: 'Tous mes bons' }).click();
    await h1(page, 'Bons d’échange');
    await page.getByLabel('Montant du bon, en euros').fill('5');
    await page.getByLabel('Budget à utiliser').selectOption('general');
    await page.getByRole('button', { name: 'Créer le bon' }).click();
    await h1(page, 'Bon d’échange créé');
    const second = (await page.locator('[data-testid="voucher-number"]').textContent()).trim();
    await page.getByRole('button', { name: 'Annuler ce bon' }).click();
    await page.locator('dialog[open]').waitFor();
    await page.getByRole('button', { name: 'Oui, annuler le bon' }).click();
    await page.locator('.tag', { hasText: 'Annulé' }).first().waitFor();
    await page.getByRole('link', { name: 'Tous mes bons' }).click();
    await h1(page, 'Bons d’échange');
    await page.locator('.card', { hasText: second }).locator('.tag', { hasText: 'Annulé' }).waitFor();
    await page.locator('.card', { hasText: number }).locator('.tag', { hasText: 'Utilisé' }).waitFor();
    await screen(page, 'bons-liste');
  });

  await step('installable: the French manifest, its icons, an active service worker', async () => {
    const manifest = await api('GET', '/manifest.webmanifest');
    check(manifest.status === 200 && manifest.headers.get('content-type').startsWith('application/manifest+json'), `manifest: ${manifest.status}`);
    const m = manifest.json;
    check(m.lang === 'fr' && m.display === 'standalone' && m.name && m.short_name && m.theme_color && m.start_url === '/beneficiaire', `manifest fields: ${manifest.text}`);
    for (const size of ['192x192', '512x512']) {
      const icon = m.icons.find((i) => i.sizes === size && i.type === 'image/png');
      check(icon, `no ${size} PNG icon`);
      const got = await fetch(BASE_URL + icon.src);
      const bytes = Buffer.from(await got.arrayBuffer());
      check(got.status === 200 && bytes.readUInt32BE(16) === Number(size.split('x')[0]), `icon ${icon.src} is not ${size}`);
    }
    await page.goto(`${BASE_URL}/beneficiaire`);
    await h1(page, 'Mon Pass solidarité');
    const active = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      return Boolean(registration.active) && registration.scope;
    });
    check(active === `${BASE_URL}/`, `no active service worker for the site: ${active}`);
    await page.reload();
    await h1(page, 'Mon Pass solidarité');
    check(await page.evaluate(() => Boolean(navigator.serviceWorker.controller)), 'the page is not controlled by the service worker');
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    // A test browser context is incognito, which alone forbids installing.
    const errors = installabilityErrors.map((e) => e.errorId).filter((id) => id !== 'in-incognito');
    check(errors.length === 0, `Chromium's installability checks: ${JSON.stringify(installabilityErrors)}`);
    return 'Chromium reports no installability error but incognito';
  });

  await step('offline: paying says it needs the network and sends nothing; the app opens on the last balance with its time', async () => {
    await page.locator('.total-amount', { hasText: '102,50' }).waitFor();
    await page.goto(`${BASE_URL}/payer/${PARTNER_CODE}`);
    await h1(page, 'Payer un partenaire');
    await page.getByLabel('Montant à payer, en euros').fill('5');
    await page.getByRole('button', { name: 'Vérifier le paiement' }).click();
    await h1(page, 'Confirmer le paiement');
    await context.setOffline(true);
    await page.locator('.offline-banner').waitFor();
    const sent = payments();
    await page.getByRole('button', { name: 'Payer 5,00 €' }).click();
    await page.getByText('le paiement n’a pas été envoyé').waitFor();
    await screen(page, 'hors-connexion-paiement');
    await page.reload();
    await h1(page, 'Payer demande une connexion Internet');
    await page.locator('nav a', { hasText: 'Mon Pass' }).click();
    await h1(page, 'Mon Pass solidarité');
    await page.reload();
    await h1(page, 'Mon Pass solidarité');
    const text = euros(await page.locator('main').textContent());
    check(text.includes('Vous êtes hors connexion') && text.includes('102,50 €'), `the offline home: ${text}`);
    check(/Solde au \d\d\/\d\d à \d\d:\d\d/.test(text), `the offline balance has no time: ${text}`);
    await screen(page, 'hors-connexion-accueil');
    await page.waitForTimeout(500);
    check(payments() === sent, 'a payment was sent offline');
    // Back online, without a reload: the app reads the session and the pass again.
    await context.setOffline(false);
    await page.getByRole('button', { name: 'Se déconnecter' }).waitFor();
    await h1(page, 'Mon Pass solidarité');
    await page.locator('.seen-at:not(.seen-at-offline)').waitFor();
    await page.locator('.total-amount', { hasText: '102,50' }).waitFor();
    check(!(await page.getByText('Vous êtes hors connexion').count()), 'still said offline once online');
    const after = await api('GET', '/api/v1/pass', { token });
    check(after.json.balance_cents === 10250, `the pass changed while offline: ${after.json.balance_cents}`);
  });

  await step('the code typed: a mistyped check digit is said as typed, nothing asked of the server', async () => {
    await page.locator('nav a', { hasText: 'Payer' }).click();
    await h1(page, 'Payer un partenaire');
    const wrong = PARTNER_CODE.slice(0, 7) + String((Number(PARTNER_CODE[7]) + 1) % 10);
    const lookups = () => requests.filter((r) => r.url.includes('/directory/partners/')).length;
    const seen = lookups();
    await page.getByLabel('Code du partenaire').fill(wrong);
    await page.getByText('Ce code est mal saisi').first().waitFor();
    check(lookups() === seen, 'a mistyped code was looked up');
    await screen(page, 'code-mal-saisi');
  });

  check(problems.filter((p) => !p.includes('ERR_INTERNET_DISCONNECTED') && !p.includes('Failed to load resource')).length === 0, `console errors: ${problems.join('; ')}`);
  await context.close();

  await step('keyboard alone: log in, type the partner code, the amount, confirm: paid', async () => {
    const k = await phoneContext(browser, { viewport: PHONE });
    const p = k.page;
    const tabTo = async (predicate, what, limit = 40) => {
      for (let i = 0; i < limit; i++) {
        await p.keyboard.press('Tab');
        if (await p.evaluate(predicate)) return;
      }
      throw new Failure(`Tab never reached ${what}`);
    };
    await p.goto(`${BASE_URL}/beneficiaire/payer`);
    await h1(p, 'Connexion à mon Pass');
    await tabTo(() => document.activeElement?.id === 'f-email', 'the e-mail field');
    await p.keyboard.type(EMAIL);
    await p.keyboard.press('Tab');
    await p.keyboard.type(PASSWORD);
    await p.keyboard.press('Enter');
    await h1(p, 'Payer un partenaire');
    await tabTo(() => document.activeElement?.id === 'f-partner_code', 'the partner code');
    await p.keyboard.type(PARTNER_CODE);
    await p.keyboard.press('Enter');
    await p.locator('.partner-card').waitFor();
    await tabTo(() => document.activeElement?.id === 'f-amount', 'the amount');
    await p.keyboard.type('1,00');
    await p.keyboard.press('Enter');
    await screenAfter(p, 'Confirmer le paiement');
    await p.waitForFunction(() => document.activeElement?.tagName === 'H1');
    await tabTo(() => document.activeElement?.textContent.replace(/\s+/g, ' ') === 'Payer 1,00 €', 'the pay button', 10);
    await p.keyboard.press('Enter');
    await screenAfter(p, 'Paiement accepté');
    await screenshot(p, 'clavier-preuve');
    await k.context.close();
    const after = await api('GET', '/api/v1/pass', { token });
    check(after.json.balance_cents === 10150, `the keyboard payment: ${after.json.balance_cents}`);
  });

  await step('the answer of a payment lost on the way: said plainly, the retry reuses the key, paid once', async () => {
    const o = await phoneContext(browser, { viewport: PHONE });
    const p = o.page;
    const keys = [];
    let lost = false;
    await p.route('**/api/v1/pass/payments', async (route) => {
      keys.push(route.request().headers()['idempotency-key']);
      if (!lost) {
        // The server gets it and pays; the phone never hears back.
        lost = true;
        await route.fetch();
        await route.abort('connectionreset');
        return;
      }
      await route.continue();
    });
    await p.goto(PAYMENT_URL);
    await logIn(p, EMAIL, PASSWORD);
    await p.getByLabel('Montant à payer, en euros').fill('2');
    await p.getByRole('button', { name: 'Vérifier le paiement' }).click();
    await p.getByRole('button', { name: 'Payer 2,00 €' }).click();
    await p.locator('.error-summary', { hasText: 'il ne sera jamais fait deux fois' }).waitFor();
    check((await p.locator('.confirm-amount').textContent()).includes('2,00'), 'the amount was not kept');
    await p.getByRole('button', { name: 'Payer 2,00 €' }).click();
    await h1(p, 'Paiement accepté');
    check(keys.length === 2 && keys[0] && keys[0] === keys[1], `the retry did not reuse the key: ${JSON.stringify(keys)}`);
    await o.context.close();
    const after = await api('GET', '/api/v1/pass', { token });
    check(after.json.balance_cents === 9950, `paid twice or not at all: ${after.json.balance_cents}`);
  });

  await step('a beneficiary who logs in on the partner space lands in its own app; the forgotten password page', async () => {
    const o = await phoneContext(browser, { viewport: PHONE, bypassCSP: true });
    const p = o.page;
    await p.goto(`${BASE_URL}/partenaire/connexion`);
    await logIn(p, EMAIL, PASSWORD);
    await p.waitForURL('**/beneficiaire');
    await h1(p, 'Mon Pass solidarité');
    await p.getByRole('button', { name: 'Se déconnecter' }).click();
    await h1(p, 'Connexion à mon Pass');
    await p.getByRole('link', { name: 'Mot de passe oublié ?' }).click();
    await h1(p, 'Mot de passe oublié');
    await screen(p, 'mot-de-passe-oublie');
    await p.getByLabel('Adresse e-mail').fill(EMAIL);
    await p.getByRole('button', { name: 'Recevoir le lien' }).click();
    await p.getByText('Demande envoyée').waitFor();
    await o.context.close();
  });

  await step('the scan in the app: the camera\'s QR code leads to the payment page (the decoder stubbed: headless Chromium has none)', async () => {
    const o = await phoneContext(browser, { viewport: PHONE });
    await o.context.addInitScript((url) => {
      // Only what headless Chromium lacks: a camera and BarcodeDetector.
      window.BarcodeDetector = class {
        async detect() {
          return [{ rawValue: url }];
        }
      };
      navigator.mediaDevices.getUserMedia = async () => {
        const canvas = document.createElement('canvas');
        canvas.width = 64;
        canvas.height = 64;
        canvas.getContext('2d').fillRect(0, 0, 64, 64);
        return canvas.captureStream(5);
      };
    }, PAYMENT_URL);
    const p = o.page;
    await p.goto(`${BASE_URL}/beneficiaire/payer`);
    await logIn(p, EMAIL, PASSWORD);
    await h1(p, 'Payer un partenaire');
    await p.getByRole('button', { name: 'Scanner le QR code' }).click();
    await p.waitForURL(`**/payer/${PARTNER_CODE}`);
    await p.locator('.partner-card', { hasText: PARTNER_NAME }).waitFor();
    await o.context.close();
  });

  await step('the partners: the directory searched by name, leading to its payment page', async () => {
    const o = await phoneContext(browser, { viewport: PHONE, bypassCSP: true });
    const p = o.page;
    await p.goto(`${BASE_URL}/beneficiaire/partenaires`);
    await logIn(p, EMAIL, PASSWORD);
    await h1(p, 'Partenaires');
    await p.getByLabel('Rechercher par nom ou par ville').fill(PARTNER_NAME.slice(0, 12).toUpperCase());
    await p.locator('.card', { hasText: PARTNER_NAME }).first().waitFor();
    await screen(p, 'partenaires');
    // Other tests' partners may bear the same name: this one has this code.
    const link = p.locator(`.card a[href="/payer/${PARTNER_CODE}"]`);
    check(plain(await link.textContent()) === `Payer ce partenaire : ${PARTNER_NAME}`, `the link says ${await link.textContent()}`);
    await link.click();
    await p.waitForURL(`**/payer/${PARTNER_CODE}`);
    await p.getByLabel('Montant à payer, en euros').waitFor();
    await o.context.close();
  });

  await step('a closed pass: the home says so plainly, with no pay or voucher action; the pay and voucher pages too', async () => {
    const o = await phoneContext(browser, { viewport: PHONE, bypassCSP: true });
    const p = o.page;
    await p.goto(`${BASE_URL}/beneficiaire`);
    await logIn(p, CLOSED_EMAIL, PASSWORD);
    await h1(p, 'Mon Pass solidarité');
    await p.locator('.notice', { hasText: 'Votre Pass est fermé' }).waitFor();
    const text = euros(await p.locator('main').textContent());
    check(/Votre Pass a été fermé le \d\d\/\d\d\/\d{4}\. Son solde a été rendu au budget de la ville/.test(text), `the close is not said: ${text}`);
    check(text.includes('0,00 €') && !text.includes('Mes budgets'), `a closed pass shows its envelopes: ${text}`);
    check(await p.getByRole('link', { name: 'Payer un partenaire' }).count() === 0, 'a closed pass offers to pay');
    check(await p.getByRole('link', { name: 'Créer un bon d’échange' }).count() === 0, 'a closed pass offers a voucher');
    await screen(p, 'pass-ferme');
    await p.goto(`${BASE_URL}/payer/${PARTNER_CODE}`);
    await p.locator('.notice', { hasText: 'Votre Pass est fermé' }).waitFor();
    check(await p.getByLabel('Montant à payer, en euros').count() === 0, 'a closed pass is asked an amount to pay');
    await p.goto(`${BASE_URL}/beneficiaire/bons`);
    await p.locator('.notice', { hasText: 'Votre Pass est fermé' }).waitFor();
    check(await p.getByRole('button', { name: /Créer le bon/ }).count() === 0, 'a closed pass is offered to create a voucher');
    await o.context.close();
  });
} catch (e) {
  exitCode = 1;
  if (!(e instanceof Failure)) console.error(e);
} finally {
  await browser.close();
}
const { failed, text } = summary();
console.log(`axe-core on ${screens.length} screens: ${screens.join(', ')}`);
console.log(text);
process.exit(exitCode || failed ? 1 : 0);
