// Bundles the browser code under player/src (one entry per page) into player/dist.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entries = readdirSync(`${root}player/src`)
  .filter((f) => f.endsWith('.page.ts'))
  .map((f) => `${root}player/src/${f}`);
const benchEntries = readdirSync(`${root}bench/lib`)
  .filter((f) => f.endsWith('.page.ts'))
  .map((f) => `${root}bench/lib/${f}`);

await build({
  entryPoints: [...entries, ...benchEntries],
  outdir: `${root}player/dist`,
  entryNames: '[name]',
  bundle: true,
  format: 'esm',
  target: 'chrome120',
  sourcemap: true,
  minify: process.env.NODE_ENV === 'production',
  logLevel: 'warning',
});
