// web-beneficiary-load.mjs - the time from opening /payer/<code> (logged in
// by cookie, set over the API so that the app's first load is cold) to the
// amount field usable, in Chromium with its CPU 4x slower and Lighthouse's
// slow 4G (150 ms round trips, 1.6 Mbit/s down, 750 kbit/s up); then the
// same after a reload (the shell from the service worker). Measured in the
// page from the navigation's start. Run by tests/bench/web_beneficiary.py;
// prints one JSON line.
import { launch, BASE_URL } from '../browser/lib.mjs';

const email = process.env.SP_BENCH_EMAIL;
const password = process.env.SP_BENCH_PASSWORD;
const code = process.env.SP_BENCH_PARTNER_CODE;
const runs = Number(process.env.SP_BENCH_RUNS ?? 5);

const browser = await launch();
const cold = [];
const warm = [];
try {
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'fr-FR', timezoneId: 'Europe/Paris' });
    const login = await context.request.post(`${BASE_URL}/api/v1/auth/login`, {
      data: { email, password, session: 'cookie' },
      headers: { Origin: BASE_URL },
    });
    if (login.status() !== 200) throw new Error(`login: ${login.status()} ${await login.text()}`);
    await context.addInitScript(() => {
      new MutationObserver((_m, observer) => {
        const field = document.getElementById('f-amount');
        if (field && !field.disabled) {
          window.amountUsableMs = performance.now();
          observer.disconnect();
        }
      }).observe(document, { childList: true, subtree: true });
    });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: (1.6 * 1024 * 1024) / 8, uploadThroughput: (750 * 1024) / 8 });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    const measure = async () => {
      await page.waitForFunction(() => window.amountUsableMs, null, { timeout: 30000 });
      return page.evaluate(() => window.amountUsableMs);
    };
    await page.goto(`${BASE_URL}/payer/${code}`, { waitUntil: 'commit' });
    cold.push(await measure());
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.reload({ waitUntil: 'commit' });
    warm.push(await measure());
    console.error(`run ${i + 1}: cold ${Math.round(cold.at(-1))} ms, reload ${Math.round(warm.at(-1))} ms`);
    await context.close();
  }
} finally {
  await browser.close();
}
const median = (list) => Math.round([...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]);
console.log(JSON.stringify({ cold_runs: cold.map(Math.round), cold_median_ms: median(cold), warm_runs: warm.map(Math.round), warm_median_ms: median(warm) }));
