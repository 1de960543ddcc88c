// build.mjs - bundles the web apps with esbuild into dist/: one HTML page per
// app (the home app at the root, partenaire/index.html, beneficiaire/index.html,
// backoffice/index.html
// with the installable app's files of pwa.mjs at the root), their JS and CSS in
// dist/assets/ with content-hash names, minified, each with .gz and .br
// siblings precompressed with node's zlib. The new tree is written beside
// dist/ and swapped in at the end, so the gateway never serves half a build.
import { build } from 'esbuild';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { THEME, writePwa } from './pwa.mjs';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const next = join(here, 'dist.next');

const apps = [
  { name: 'home', entry: 'src/home/main.tsx', html: 'index.html', title: 'Pass solidarité' },
  { name: 'partenaire', entry: 'src/partenaire/main.tsx', html: 'partenaire/index.html', title: 'Espace partenaire – Pass solidarité' },
  { name: 'beneficiaire', entry: 'src/beneficiaire/main.tsx', html: 'beneficiaire/index.html', title: 'Mon Pass solidarité', pwa: true },
  { name: 'backoffice', entry: 'src/backoffice/main.tsx', html: 'backoffice/index.html', title: 'Console de la ville – Pass solidarité' },
];
const PWA_HEAD = `<link rel="manifest" href="/manifest.webmanifest">
<meta name="theme-color" content="${THEME}">
<link rel="apple-touch-icon" href="/icon-192.png">
`;
const appAssets = {};

rmSync(next, { recursive: true, force: true });
mkdirSync(join(next, 'assets'), { recursive: true });

const result = await build({
  absWorkingDir: here,
  entryPoints: Object.fromEntries(apps.map((app) => [app.name, app.entry])),
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020', 'chrome80', 'firefox78', 'safari13'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: join(next, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});

function escapeHtml(text) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

for (const app of apps) {
  const [jsPath, output] = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint === app.entry) ?? [];
  if (!jsPath) throw new Error(`no output for ${app.entry}`);
  const js = `/assets/${basename(jsPath)}`;
  const css = output.cssBundle ? `/assets/${basename(output.cssBundle)}` : null;
  const html = `<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${escapeHtml(app.title)}</title>
<link rel="icon" href="${app.pwa ? '/icon.svg' : 'data:,'}">
${app.pwa ? PWA_HEAD : ''}${css ? `<link rel="stylesheet" href="${css}">\n` : ''}<script type="module" src="${js}"></script>
</head>
<body>
<div id="app"><noscript><p>Cette page a besoin de JavaScript. Pour toute question, écrivez au service du Pass solidarité.</p></noscript></div>
</body>
</html>
`;
  appAssets[app.name] = [js, css].filter(Boolean);
  mkdirSync(dirname(join(next, app.html)), { recursive: true });
  writeFileSync(join(next, app.html), html);
}

writeFileSync(join(next, 'robots.txt'), 'User-agent: *\nDisallow: /partenaire\nDisallow: /beneficiaire\nDisallow: /payer\nDisallow: /backoffice\n');
writePwa(next, appAssets.beneficiaire);

// Precompressed siblings of what the gateway serves with Content-Encoding.
let sizes = [];
for (const name of readdirSync(join(next, 'assets'))) {
  if (!/\.(js|css|svg)$/.test(name)) continue;
  const path = join(next, 'assets', name);
  const data = readFileSync(path);
  const gz = gzipSync(data, { level: 9 });
  const br = brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } });
  writeFileSync(`${path}.gz`, gz);
  writeFileSync(`${path}.br`, br);
  sizes.push(`${name}: ${data.length} B, gzip ${gz.length} B, brotli ${br.length} B`);
}

const old = join(here, 'dist.old');
rmSync(old, { recursive: true, force: true });
if (existsSync(dist)) renameSync(dist, old);
renameSync(next, dist);
rmSync(old, { recursive: true, force: true });
console.log(`web: built ${apps.length} apps into dist/\n  ${sizes.join('\n  ')}`);
const gzipOf = (asset) => readFileSync(join(dist, `${asset}.gz`)).length;
console.log(`  beneficiary app (JS + CSS, gzip): ${appAssets.beneficiaire.map(gzipOf).reduce((a, b) => a + b, 0)} B`);
