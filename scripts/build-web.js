#!/usr/bin/env node
// Builds the web UI (web/) into dist/ui/: one minified ES module bundle and one stylesheet,
// named by content hash (cached for a year), and index.html naming them (revalidated on
// every load). Offline: esbuild and Preact come from node_modules. Prints the sizes.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'ui');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: { main: join(root, 'web/src/main.tsx'), styles: join(root, 'web/src/styles.css') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: out,
  entryNames: '[name]-[hash]',
  sourcemap: 'linked',
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const named = (ext) => {
  const file = outputs.find((f) => f.endsWith(ext));
  if (!file) throw new Error(`esbuild wrote no ${ext} file`);
  return file;
};

const favicon = readFileSync(join(root, 'web/favicon.svg'));
const faviconName = `favicon-${createHash('sha256').update(favicon).digest('hex').slice(0, 8).toUpperCase()}.svg`;
writeFileSync(join(out, faviconName), favicon);

const html = readFileSync(join(root, 'web/index.html'), 'utf8')
  .replace('{{js}}', named('.js'))
  .replace('{{css}}', named('.css'))
  .replace('{{favicon}}', faviconName);
writeFileSync(join(out, 'index.html'), html);

let total = 0;
for (const file of [named('.js'), named('.css'), 'index.html']) {
  const body = readFileSync(join(out, file));
  const gz = gzipSync(body, { level: 9 }).length;
  total += gz;
  console.log(`  dist/ui/${file}  ${(body.length / 1024).toFixed(1)} KiB (${(gz / 1024).toFixed(1)} KiB gzip)`);
}
console.log(`web UI built: ${(total / 1024).toFixed(1)} KiB gzip in all`);
