import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { Hono } from 'hono';
import { ServiceError } from '../../core/errors.ts';
import type { ApiDeps, AppEnv } from '../types.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
};

/** Only plain relative names: no dot segments, no hidden files, no encodings, no backslashes. */
const SAFE_ASSET = /^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * The player's pages (`/studio`, `/watch`, `/console`) and its bundles under `/assets/*`
 * (from player/dist). Asset paths are matched against a strict pattern on the raw URL, so
 * `..`, `%2e%2e`, `%2f` and backslashes never reach the file system (400), and the resolved
 * path must still lie under the dist directory.
 */
export function pageRoutes(deps: Pick<ApiDeps, 'playerRoot'>) {
  const pagesDir = resolve(deps.playerRoot, 'pages');
  const distDir = resolve(deps.playerRoot, 'dist');
  const app = new Hono<AppEnv>();
  for (const page of ['studio', 'watch', 'console']) {
    app.get(`/${page}`, async (c) => {
      const file = await readIfFile(join(pagesDir, `${page}.html`));
      c.header('cache-control', 'no-cache');
      c.header('content-type', CONTENT_TYPES['.html']!);
      return c.body(file);
    });
  }
  app.get('/assets/*', async (c) => {
    const rawPath = new URL(c.req.url).pathname;
    const rel = rawPath.slice('/assets/'.length);
    if (!SAFE_ASSET.test(rel) || rel.split('/').some((seg) => seg === '..' || seg === '.')) {
      throw new ServiceError('bad_request', 'invalid asset path');
    }
    const full = resolve(distDir, rel);
    if (!full.startsWith(distDir + sep)) throw new ServiceError('bad_request', 'invalid asset path');
    const file = await readIfFile(full);
    c.header('content-type', CONTENT_TYPES[extname(full)] ?? 'application/octet-stream');
    c.header('cache-control', 'no-cache');
    c.header('x-content-type-options', 'nosniff');
    return c.body(file);
  });
  return app;
}

async function readIfFile(path: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a file');
    return new Uint8Array(await readFile(path));
  } catch {
    throw new ServiceError('not_found', 'no such file');
  }
}
