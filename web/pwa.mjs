// pwa.mjs - what makes the beneficiary app installable, written by build.mjs
// into dist/: the icons (drawn here, as SVG and as PNG rasterised by this
// script: no image tool needed), the French manifest, and the service worker
// that keeps the app shell for offline opening. The service worker never
// answers nor queues an API request: paying needs the network.
import { deflateSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const THEME = '#1f3f8f';
const CARD = '#ffffff';
const STRIPE = '#ffdd00';
const MARK = '#1e6b34';

/* The drawing, in a 100×100 box, full bleed (maskable: the safe circle of
 * radius 40 holds the card): a pass card with a yellow stripe and a check. */
const card = { x: 20, y: 30, w: 60, h: 40, r: 6 };
const stripe = { y: 38, h: 7 };
const check = [[34, 55], [44, 63], [64, 47]];
const checkWidth = 6;

export function iconSvg() {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="512" height="512">
<rect width="100" height="100" fill="${THEME}"/>
<rect x="${card.x}" y="${card.y}" width="${card.w}" height="${card.h}" rx="${card.r}" fill="${CARD}"/>
<rect x="${card.x}" y="${stripe.y}" width="${card.w}" height="${stripe.h}" fill="${STRIPE}"/>
<polyline points="${check.map((p) => p.join(',')).join(' ')}" fill="none" stroke="${MARK}" stroke-width="${checkWidth}" stroke-linecap="round" stroke-linejoin="round"/>
</svg>
`;
}

function hex(colour) {
  return [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
}

function inRoundedRect(x, y, r) {
  if (x < card.x || x > card.x + card.w || y < card.y || y > card.y + card.h) return false;
  const cx = Math.min(Math.max(x, card.x + r), card.x + card.w - r);
  const cy = Math.min(Math.max(y, card.y + r), card.y + card.h - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

function nearSegment(x, y, [ax, ay], [bx, by], half) {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
  return (x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2 <= half * half;
}

function colourAt(x, y) {
  if (nearSegment(x, y, check[0], check[1], checkWidth / 2) || nearSegment(x, y, check[1], check[2], checkWidth / 2)) return MARK;
  if (inRoundedRect(x, y, card.r)) return y >= stripe.y && y < stripe.y + stripe.h ? STRIPE : CARD;
  return THEME;
}

const CRC_TABLE = Array.from({ length: 256 }, (_v, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, sum]);
}

/** The icon as an RGB PNG of size×size pixels, 4×4 samples per pixel. */
export function iconPng(size) {
  const samples = 4;
  const rows = Buffer.alloc(size * (1 + size * 3));
  for (let py = 0; py < size; py++) {
    const row = py * (1 + size * 3);
    rows[row] = 0;
    for (let px = 0; px < size; px++) {
      const sum = [0, 0, 0];
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          const rgb = hex(colourAt(((px + (sx + 0.5) / samples) * 100) / size, ((py + (sy + 0.5) / samples) * 100) / size));
          for (let i = 0; i < 3; i++) sum[i] += rgb[i];
        }
      }
      for (let i = 0; i < 3; i++) rows[row + 1 + px * 3 + i] = Math.round(sum[i] / (samples * samples));
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

export function manifest() {
  return {
    id: '/beneficiaire',
    name: 'Pass solidarité',
    short_name: 'Pass solidarité',
    description: 'Voir le solde de votre Pass solidarité, payer un partenaire et montrer la preuve du paiement.',
    lang: 'fr',
    dir: 'ltr',
    start_url: '/beneficiaire',
    scope: '/',
    display: 'standalone',
    orientation: 'portrait',
    background_color: '#ffffff',
    theme_color: THEME,
    categories: ['finance', 'lifestyle'],
    icons: [
      { src: '/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
      { src: '/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
      { src: '/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
      { src: '/icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' },
    ],
  };
}

/** The service worker: the shell (page, its JS and CSS, manifest, icons)
 * cached at install under a name that changes with the build; page loads of
 * the app try the network first and fall back to the cached page; assets of
 * the shell come from the cache; anything else, the API above all, goes to
 * the network untouched. */
export function serviceWorker(shell) {
  const version = createHash('sha256').update(shell.join('\n')).digest('hex').slice(0, 16);
  return `/* sw.js - the beneficiary app's service worker (generated by web/pwa.mjs). */
'use strict';
const CACHE = 'solipass-beneficiaire-${version}';
const PAGE = '/beneficiaire';
const SHELL = ${JSON.stringify(shell)};
self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith('solipass-beneficiaire-') && n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});
function inApp(path) {
  return path === PAGE || path.startsWith(PAGE + '/') || path.startsWith('/payer/');
}
self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  if (request.mode === 'navigate') {
    if (!inApp(url.pathname)) return;
    event.respondWith(fetch(request).catch(() => caches.open(CACHE).then((cache) => cache.match(PAGE))
      .then((page) => page || Response.error())));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.open(CACHE).then((cache) => cache.match(url.pathname)).then((hit) => hit || fetch(request)));
  }
});
`;
}

/** Writes the icons, the manifest and the service worker into dir. */
export function writePwa(dir, appFiles) {
  writeFileSync(join(dir, 'icon.svg'), iconSvg());
  writeFileSync(join(dir, 'icon-192.png'), iconPng(192));
  writeFileSync(join(dir, 'icon-512.png'), iconPng(512));
  writeFileSync(join(dir, 'icon-maskable-512.png'), iconPng(512));
  writeFileSync(join(dir, 'manifest.webmanifest'), `${JSON.stringify(manifest(), null, 2)}\n`);
  const shell = ['/beneficiaire', ...appFiles, '/manifest.webmanifest', '/icon.svg', '/icon-192.png', '/icon-512.png'];
  writeFileSync(join(dir, 'sw.js'), serviceWorker(shell));
}
