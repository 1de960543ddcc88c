// smoke.mjs - logs in as a demo partner and visits each screen (a quick look
// during development; the journey is partner-journey.mjs).
import { launch, openContext, screenshot, BASE_URL, log } from './lib.mjs';

const email = process.env.SP_TEST_EMAIL ?? 'club-foot@example.org';
const password = process.env.SP_TEST_PASSWORD ?? 'solipass-demo';
const width = Number(process.env.SP_TEST_WIDTH ?? 1280);
const browser = await launch();
const { page, problems } = await openContext(browser, { viewport: { width, height: 800 } });
await page.goto(`${BASE_URL}/`);
await screenshot(page, `home-${width}`);
await page.goto(`${BASE_URL}/partenaire`);
await page.locator('h1').waitFor();
await screenshot(page, `login-${width}`);
await page.getByLabel('Adresse e-mail').fill(email);
await page.getByLabel('Mot de passe').fill(password);
await page.getByRole('button', { name: 'Se connecter' }).click();
await page.locator('h1', { hasText: 'Bienvenue' }).waitFor();
await page.waitForTimeout(500);
await screenshot(page, `accueil-${width}`);
for (const [path, name] of [['operations', 'operations'], ['remboursements', 'remboursements'], ['exports', 'exports'], ['qr-code', 'qr'], ['structure', 'structure'], ['utilisateurs', 'utilisateurs'], ['conventions', 'conventions']]) {
  await page.locator(`nav a[href="/partenaire/${path}"]`).click();
  await page.waitForURL(`**/partenaire/${path}`);
  await page.waitForTimeout(700);
  log(path, await page.locator('h1').textContent());
  await screenshot(page, `${name}-${width}`);
}
log('problems:', problems);
await browser.close();
