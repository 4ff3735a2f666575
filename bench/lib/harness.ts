/**
 * Node side of the benches: network-namespace self-wrapping, and a tiny static server for the
 * bench pages (bundled here with esbuild, so a bench runs without the player build and on its
 * own origin, which is also what the direct path needs).
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const BENCH_LIB = fileURLToPath(new URL('.', import.meta.url));

/** True when the only interface with an address is loopback, and it is up. */
export function inLoopbackOnlyNamespace(): boolean {
  const ifaces = networkInterfaces();
  const names = Object.keys(ifaces);
  return names.length > 0 && names.every((n) => ifaces[n]!.every((a) => a.internal)) && names.includes('lo');
}

/**
 * Re-executes the current script inside `unshare -n` with only loopback up, unless it already
 * runs in such a namespace. Returns only in the namespaced process; the outer one exits with
 * the inner one's status.
 */
export function ensureLoopbackNamespace(): void {
  if (inLoopbackOnlyNamespace()) return;
  if (process.env.STAGECAST_NETNS === '1') {
    console.error('inside the namespace but a non-loopback interface is still up; refusing to run');
    process.exit(1);
  }
  const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const cmd = [process.execPath, ...process.execArgv, ...process.argv.slice(1)].map(q).join(' ');
  const inner = `ip link set lo up && exec ${cmd}`;
  const asRoot = process.getuid?.() === 0;
  const result = spawnSync('unshare', [asRoot ? '-n' : '-rn', 'sh', '-c', inner], {
    stdio: 'inherit',
    env: { ...process.env, STAGECAST_NETNS: '1' },
  });
  if (result.error) {
    console.error(`cannot create a network namespace: ${result.error.message}`);
    process.exit(1);
  }
  process.exit(result.status ?? 1);
}

export interface BenchServer {
  /** Origin, e.g. http://127.0.0.1:40123 */
  url: string;
  /** URL of the HTML page that loads `<entry>.page.js`. */
  pageUrl(entry: string): string;
  close(): Promise<void>;
}

/**
 * Bundles `bench/lib/<entry>.page.ts` for each entry and serves, on 127.0.0.1, `/<entry>.html`
 * (a blank page with a canvas that loads the bundle) and `/<entry>.page.js`.
 */
export async function serveBenchPages(entries: string[]): Promise<BenchServer> {
  const files = new Map<string, { type: string; body: string }>();
  for (const entry of entries) {
    const result = await build({
      entryPoints: [`${BENCH_LIB}${entry}.page.ts`],
      bundle: true,
      format: 'esm',
      target: 'chrome120',
      write: false,
      logLevel: 'warning',
    });
    files.set(`/${entry}.page.js`, { type: 'text/javascript', body: result.outputFiles[0]!.text });
    files.set(`/${entry}.html`, {
      type: 'text/html',
      body: `<!doctype html><meta charset="utf-8"><title>${entry}</title><body style="margin:0;background:#333"><canvas></canvas><script type="module" src="/${entry}.page.js"></script></body>`,
    });
  }
  const server: Server = createServer((req, res) => {
    const file = files.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    url,
    pageUrl: (entry) => `${url}/${entry}.html`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The end of a bench: writes `samples()` to BENCH_DUMP when set, prints each problem, and
 * returns the exit code (1 when there were problems).
 */
export async function finishBench(problems: string[], samples?: () => unknown): Promise<number> {
  if (process.env.BENCH_DUMP && samples) {
    await writeFile(process.env.BENCH_DUMP, JSON.stringify(samples(), null, 1));
    console.log(`samples written to ${process.env.BENCH_DUMP}`);
  }
  for (const problem of problems) console.error(`PROBLEM: ${problem}`);
  return problems.length ? 1 : 0;
}

/** Runs a bench's main and exits with its code; an exception prints and exits 1. */
export function runBench(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
