// lib.mjs - what the browser tests share: Debian's Chromium driven by
// playwright-core (never a downloaded browser), one context per scenario,
// console and CSP errors collected, screenshots under var/screenshots/,
// axe-core injected for the accessibility checks, small assertions.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { optimizePng } from './png.mjs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '..', '..');
const require = createRequire(join(REPO, 'web', 'package.json'));
const { chromium } = require('playwright-core');
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const BASE_URL = (process.env.SP_TEST_BASE_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
export const SCREENSHOTS = process.env.SP_TEST_SCREENSHOTS ?? join(REPO, 'var', 'screenshots');
export const CHROMIUM = process.env.SP_TEST_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // Chromium's own words (a file input's button) in French, as the people see them.
  '--lang=fr-FR',
];

export async function launch() {
  // SP_TEST_NETLOG=<file> records Chromium's network log (a hang's diagnosis).
  const netlog = process.env.SP_TEST_NETLOG ? [`--log-net-log=${process.env.SP_TEST_NETLOG}`] : [];
  // On Linux Chromium takes its own words from LANGUAGE, not from --lang alone.
  const env = { ...process.env, LANGUAGE: 'fr', LANG: 'fr_FR.UTF-8' };
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...netlog], env, headless: true });
}

export class Failure extends Error {}

export function check(condition, message) {
  if (!condition) throw new Failure(message);
}

export function log(...parts) {
  console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...parts);
}

const pending = new Map();
const CLOCK_OFFSET_MS = Number(process.env.SP_TEST_CLOCK_OFFSET_MS ?? 0);
// The last API answers of every context, bounded: a failure says what the
// server answered last, not only what is still waiting.
const ANSWERS_KEPT_MAX = 8;
const answers = [];

/** The last API answers seen (method, path, status, time taken). */
export function lastAnswers() {
  return answers.slice();
}

/** The requests still waiting for their answer (a failure's diagnosis). */
export function pendingRequests() {
  const now = Date.now();
  return [...pending.entries()].filter(([r]) => !r.url().includes('/stream')).map(([r, at]) => `${r.method()} ${r.url()} for ${now - at} ms`);
}

/** A browser context with its page, the console errors and failed
 * requests it saw, and (when asked) the requests it made. */
export async function openContext(browser, options = {}) {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 900 },
    locale: 'fr-FR',
    timezoneId: 'Europe/Paris',
    acceptDownloads: true,
    bypassCSP: options.bypassCSP ?? false,
    reducedMotion: 'reduce',
  });
  context.setDefaultTimeout(options.timeoutMs ?? 15000);
  // The services' clock runs ahead of the machine's when tests moved it: the
  // browser must see the same day as the ledger, or a date it proposes as
  // "today" is already past for the server.
  if (CLOCK_OFFSET_MS > 0) await context.clock.install({ time: Date.now() + CLOCK_OFFSET_MS });
  const page = await context.newPage();
  const problems = [];
  const requests = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    requests.push({ method: request.method(), url: request.url() });
    pending.set(request, Date.now());
  });
  page.on('requestfinished', (request) => pending.delete(request));
  page.on('requestfailed', (request) => pending.delete(request));
  page.on('response', (response) => {
    const request = response.request();
    const url = new URL(response.url());
    if (!url.pathname.startsWith('/api/') || url.pathname.endsWith('/stream')) return;
    const sentAt = pending.get(request);
    answers.push(`${request.method()} ${url.pathname} → ${response.status()}${sentAt ? ` after ${Date.now() - sentAt} ms` : ''}`);
    if (answers.length > ANSWERS_KEPT_MAX) answers.shift();
  });
  return { context, page, problems, requests };
}

let shotCount = 0;

/** Empties the screenshot folder: each run's pictures, numbered in order. */
/** Removes this journey's earlier pictures, not the folders of the other
 * journeys that may sit inside its folder. */
export function freshScreenshots() {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const entry of readdirSync(SCREENSHOTS, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.png')) rmSync(join(SCREENSHOTS, entry.name));
  }
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  shotCount += 1;
  const path = join(SCREENSHOTS, `${String(shotCount).padStart(2, '0')}-${name}.png`);
  // From the top, so that sticky parts sit where a reader expects them.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Runs axe-core on the page (its context must bypass the CSP to inject it):
 * returns the serious and critical violations. */
export async function axe(page) {
  await page.addScriptTag({ content: AXE_SOURCE });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await window.axe.run(document, { resultTypes: ['violations'], runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** The h1 of the page once it is there. */
export async function heading(page) {
  return (await page.locator('h1').first().textContent())?.trim() ?? '';
}

export async function waitForHeading(page, text) {
  await page.locator('h1', { hasText: text }).first().waitFor();
}

/** The newest mail file in the sink's folder for this address, waiting for it. */
export async function waitForMail(folder, to, options = {}) {
  const { readdirSync, statSync } = await import('node:fs');
  const deadline = Date.now() + (options.timeoutMs ?? 30000);
  while (Date.now() < deadline) {
    let files = [];
    try {
      files = readdirSync(folder).map((name) => join(folder, name)).filter((p) => statSync(p).isFile());
    } catch {
      files = [];
    }
    const matching = files
      .map((path) => ({ path, text: readFileSync(path, 'utf8'), mtime: statSync(path).mtimeMs }))
      .filter((m) => m.text.toLowerCase().includes(`x-sink-rcpt: ${to.toLowerCase()}`) && (!options.contains || decodeMail(m.text).includes(options.contains)))
      .sort((a, b) => b.mtime - a.mtime);
    if (matching.length > 0) return decodeMail(matching[0].text);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Failure(`no e-mail to ${to} arrived in ${folder}`);
}

/** The text of a mail file with quoted-printable and base64 parts decoded
 * enough to find a link in it. */
export function decodeMail(raw) {
  let text = raw;
  const parts = [];
  const base64 = /Content-Transfer-Encoding:\s*base64\s*\r?\n(?:[^\r\n]+\r?\n)*?\r?\n([A-Za-z0-9+/=\r\n]+)/gi;
  let m;
  while ((m = base64.exec(raw)) !== null) parts.push(Buffer.from(m[1].replace(/\s+/g, ''), 'base64').toString('utf8'));
  text = raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_s, hex) => String.fromCharCode(parseInt(hex, 16)));
  return [text, ...parts].join('\n');
}

/** The API, as a program calls it (bearer token), for what the journey needs
 * done by someone else (a beneficiary paying). */
export async function api(method, path, { token, body, key, headers } = {}) {
  const all = { ...(headers ?? {}) };
  if (token) all.Authorization = `Bearer ${token}`;
  if (key) all['Idempotency-Key'] = key;
  if (body !== undefined) all['Content-Type'] = 'application/json';
  const response = await fetch(BASE_URL + path, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, json, text, headers: response.headers };
}

export async function apiLogin(email, password) {
  const answer = await api('POST', '/api/v1/auth/login', { body: { email, password } });
  check(answer.status === 200, `login of ${email} over the API: ${answer.status} ${answer.text}`);
  return answer.json.token;
}

export function newKey() {
  // node:crypto, not the global one: Node 18 has no global `crypto`.
  return randomBytes(16).toString('hex');
}

/** The first link to `path` (/activate, /reset-password) with its token in a mail. */
export function linkIn(mailText, path) {
  const found = new RegExp(`https?://[^\\s"<>]+${path.replace(/[/]/g, '\\/')}\\?token=[A-Za-z0-9._-]+`).exec(mailText);
  check(found, `no ${path} link in the e-mail:\n${mailText.slice(0, 2000)}`);
  return found[0];
}

/** A small valid PNG (a solid colour), for the logo upload. */
export async function makePng(width, height, [r, g, b]) {
  const { deflateSync } = await import('node:zlib');
  const table = Array.from({ length: 256 }, (_v, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes) => {
    let c = 0xffffffff;
    for (const byte of bytes) c = table[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const row = Buffer.alloc(1 + width * 3);
  for (let x = 0; x < width; x++) {
    // A simple two-tone mark so that the logo is visibly a logo.
    const inner = x > width / 4 && x < (3 * width) / 4;
    row[1 + x * 3] = inner ? 255 : r;
    row[2 + x * 3] = inner ? 255 : g;
    row[3 + x * 3] = inner ? 255 : b;
  }
  const rows = Buffer.concat(Array.from({ length: height }, (_v, y) => (y > height / 4 && y < (3 * height) / 4 ? row : Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, 0)].map((part, i) => (i === 1 ? Buffer.from(Array.from({ length: width * 3 }, (_w, j) => [r, g, b][j % 3])) : part))))));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

/** Normalises the spaces of formatted amounts (narrow no-break spaces). */
export function plain(text) {
  return (text ?? '').replace(/\s+/g, ' ').trim();
}

export const GUIDE_DIR = process.env.SP_GUIDE_DIR ?? '';
/** An office PC's screen: the guides' pictures are taken at this size. */
export const GUIDE_VIEWPORT = { width: 960, height: 640 };

/** A picture for a guide, docs/guide-*.md (when SP_GUIDE_DIR is set): what
 * the screen shows, the viewport only (its top `heightPx` when given: a
 * page dense with text stays under the pictures' 100 KB), with `focus`
 * scrolled into view. */
export async function guideShot(page, name, focus = null, heightPx = 0) {
  if (!GUIDE_DIR) return;
  mkdirSync(GUIDE_DIR, { recursive: true });
  const size = page.viewportSize();
  const resize = size.width !== GUIDE_VIEWPORT.width || size.height !== GUIDE_VIEWPORT.height;
  if (resize) await page.setViewportSize(GUIDE_VIEWPORT);
  // A little of what is above the focus stays in view, for context.
  if (focus) await focus.first().evaluate((element) => window.scrollTo(0, element.getBoundingClientRect().top + window.scrollY - 110));
  else await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(150);
  const clip = heightPx > 0 ? { x: 0, y: 0, width: GUIDE_VIEWPORT.width, height: Math.min(heightPx, GUIDE_VIEWPORT.height) } : undefined;
  const picture = await page.screenshot({ fullPage: false, animations: 'disabled', caret: 'hide', clip });
  writeFileSync(join(GUIDE_DIR, `${name}.png`), optimizePng(picture));
  if (resize) await page.setViewportSize(size);
}

/** Waits for the screen whose h1 holds `heading`; when the page shows an
 * error instead, or nothing comes before the deadline, fails with what the
 * page said and what the API answered. */
export async function screenAfter(page, heading, timeoutMs = 30000) {
  const refused = page.locator('[role="alert"]:visible, .error-message:visible').first();
  const outcome = await Promise.race([
    page.locator('h1', { hasText: heading }).first().waitFor({ timeout: timeoutMs }).then(() => ({})),
    refused.waitFor({ timeout: timeoutMs }).then(async () => ({ refusal: plain(await refused.textContent()) })),
  ]).catch((e) => ({ refusal: `nothing within ${timeoutMs} ms (${e.name})` }));
  if (outcome.refusal === undefined) return;
  const shown = plain(await page.locator('h1').first().textContent().catch(() => '(none)'));
  throw new Failure(`“${heading}” was not shown (the page shows “${shown}”): ${outcome.refusal}; last API answers: ${lastAnswers().join(' | ')}`);
}

/** Does `act` (a click, a key) and returns the file the page then saves;
 * when the page shows an error instead, or nothing comes before the
 * deadline, fails with what the page said and what the API answered. */
export async function downloadFrom(page, act, timeoutMs = 30000) {
  const refused = page.locator('[role="alert"]:visible, .error-message:visible').first();
  const outcome = await Promise.all([
    Promise.race([
      page.waitForEvent('download', { timeout: timeoutMs }).then((download) => ({ download })),
      refused.waitFor({ timeout: timeoutMs }).then(async () => ({ refusal: plain(await refused.textContent()) })),
    ]).catch((e) => ({ refusal: `nothing within ${timeoutMs} ms (${e.name})` })),
    act(),
  ]);
  const { download, refusal } = outcome[0];
  if (download) return download;
  throw new Failure(`no file was saved: ${refusal}; last API answers: ${lastAnswers().join(' | ')}`);
}

/** The steps of a journey: each logged with its time, the first failure
 * stopping the journey (with the requests still waiting); `summary()` is
 * the last line the integration test reads. */
export function journeySteps() {
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
      const answered = lastAnswers();
      if (answered.length) log(`last API answers:\n  ${answered.join('\n  ')}`);
      throw e;
    }
  }
  function summary() {
    const failed = results.filter((r) => !r.ok);
    return { failed: failed.length, text: `\n${results.length - failed.length} of ${results.length} steps passed${failed.length ? `; failed: ${failed.map((f) => f.name).join(', ')}` : ''}` };
  }
  return { step, summary };
}
