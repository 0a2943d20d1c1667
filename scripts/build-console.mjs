// Builds the web console into dist/console (called by `npm run build` after tsc has compiled
// console/src into dist/console/app): copies the static files and the three vendored modules
// (preact, preact/hooks, htm), and rewrites bare imports to relative paths so the browser loads
// everything from Warren itself (no import map, no CDN, no inline script for the CSP to allow).
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'console');
const pkgDir = (name) => join(root, 'node_modules', name);

mkdirSync(join(out, 'vendor'), { recursive: true });
for (const f of ['index.html', 'style.css', 'favicon.svg']) copyFileSync(join(root, 'console', f), join(out, f));

const vendor = {
  preact: [join(pkgDir('preact'), 'dist', 'preact.mjs'), 'preact.mjs'],
  'preact/hooks': [join(pkgDir('preact'), 'hooks', 'dist', 'hooks.mjs'), 'hooks.mjs'],
  htm: [join(pkgDir('htm'), 'dist', 'htm.module.js'), 'htm.mjs'],
};
const rewrite = (text, prefix) => text.replace(/(\bfrom\s*|\bimport\s*)(["'])(preact\/hooks|preact|htm)\2/g,
  (_m, kw, q, name) => `${kw}${q}${prefix}${vendor[name][1]}${q}`);
for (const [src, name] of Object.values(vendor)) {
  writeFileSync(join(out, 'vendor', name), rewrite(readFileSync(src, 'utf8'), './'));
}

function walk(dir, depth) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, depth + 1);
    else if (e.name.endsWith('.js')) writeFileSync(p, rewrite(readFileSync(p, 'utf8'), `${'../'.repeat(depth)}vendor/`));
  }
}
walk(join(out, 'app'), 1);
