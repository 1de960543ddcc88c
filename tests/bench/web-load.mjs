// web-load.mjs - the time until the partner's operations list is usable in
// Chromium with its CPU slowed 4x (CDP Emulation.setCPUThrottlingRate), from
// a cold cache (a new browser context per run), logged in by cookie.
// "Usable": the first page of rows and the totals are on the screen.
// Run by tests/bench/web.py; prints one JSON line.
import { launch, BASE_URL } from '../browser/lib.mjs';

const email = process.env.SP_BENCH_EMAIL;
const password = process.env.SP_BENCH_PASSWORD;
const runs = Number(process.env.SP_BENCH_RUNS ?? 5);
const rate = Number(process.env.SP_BENCH_CPU_RATE ?? 4);

const browser = await launch();
const timings = [];
try {
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'fr-FR', timezoneId: 'Europe/Paris' });
    const login = await context.request.post(`${BASE_URL}/api/v1/auth/login`, {
      data: { email, password, session: 'cookie' },
      headers: { Origin: BASE_URL },
    });
    if (login.status() !== 200) throw new Error(`login: ${login.status()} ${await login.text()}`);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate });
    await cdp.send('Performance.enable');
    await page.goto(`${BASE_URL}/partenaire/operations`, { waitUntil: 'commit' });
    const handle = await page.waitForFunction(
      () => {
        const totals = document.querySelector('[data-testid="totals"]');
        const rows = document.querySelectorAll('tbody tr[data-operation-id]').length;
        if (!(totals && rows > 0)) return false;
        // Where the time went: when each request of the load ended.
        const ended = {};
        for (const entry of performance.getEntriesByType('resource')) {
          const name = entry.name.replace(/^https?:\/\/[^/]+/, '').replace(/\?.*$/, '').replace(/-[A-Z0-9]{8}\./, '.');
          if (!name.includes('/stream')) ended[name] = Math.round(entry.responseEnd);
        }
        const nav = performance.getEntriesByType('navigation')[0];
        ended.html = Math.round(nav.responseEnd);
        return { ms: performance.now(), rows, totals: totals.textContent, ended };
      },
      null,
      { polling: 'raf', timeout: 30000 },
    );
    const result = await handle.jsonValue();
    const metrics = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
    result.ended.cpu = ['ScriptDuration', 'LayoutDuration', 'RecalcStyleDuration', 'TaskDuration'].map((n) => `${n.replace('Duration', '')} ${Math.round(metrics[n] * 1000)} ms`).join(', ');
    timings.push(result.ms);
    console.error(`run ${i + 1}: usable after ${Math.round(result.ms)} ms (${result.rows} rows shown, ${result.totals}); responses ended at ${JSON.stringify(result.ended)}`);
    await context.close();
  }
} finally {
  await browser.close();
}
const sorted = [...timings].sort((a, b) => a - b);
console.log(JSON.stringify({ runs: timings.map(Math.round), median_ms: Math.round(sorted[Math.floor(sorted.length / 2)]), cpu_rate: rate }));
