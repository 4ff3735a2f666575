/**
 * Origin load bench: N simulated LL-HLS viewers against our origin, and the same viewers
 * against Debian's nginx serving the same playlist and parts as static files, in one run.
 *
 *   node bench/origin-load.ts          (npm run bench:origin-load)
 *
 * Re-executes itself inside `unshare -n` with only loopback up (bench/lib/harness.ts). Three
 * kinds of process:
 *   server  (bench/lib/origin-load.server.ts): a live packager fed by a real ffmpeg (320x180
 *           H.264 + AAC, 0.2 s parts, 1 s segments) and the origin in front of it, wired as the
 *           service wires it; on request it also writes each part and the playlist, as they
 *           land, to a folder;
 *   nginx   one worker (like the origin's one event loop), access log off, serving that folder;
 *   viewers (bench/lib/origin-load.viewers.ts, BENCH_LOAD_PROCS processes, default 2):
 *           keep-alive HTTP/1.1, one connection per viewer. Against the origin each viewer
 *           does what hls.js does in low-latency mode: a blocking reload for the next part,
 *           then that part. nginx cannot block, so there each viewer reloads the playlist every
 *           part target and fetches the parts it has not seen: the same requests per second,
 *           to compare the cost of a request, not the delay.
 * For each N in BENCH_VIEWERS (default 250,1000,2000,4000) the origin runs, then nginx, each
 * with a BENCH_WARMUP_MS ramp (default 3000) and a BENCH_SECONDS window (default 10). Printed
 * per side: requests/s, errors (non-200 answers, resets, 10 s client timeouts), delay from a
 * part's publication (origin: the packager's part event; nginx: the playlist file renamed into
 * place) to the viewer's response (the playlist that holds it, p50/p99; and the part itself,
 * p99), CPU per request (origin: process.cpuUsage of the server process, packager and ffmpeg
 * pipe reading included; nginx: utime+stime of its worker from /proc) and each viewer process's
 * own CPU in the window (the load generator shares the machine).
 * Then the origin/nginx CPU-per-request ratio and the targets: 0 errors up to 2000 viewers, p99
 * release within 50 ms at 1000, CPU per request within 3x nginx's.
 *
 * BENCH_ORIGIN_ROOT=<checkout> loads the origin from another checkout's services/ (before/after
 * figures with the same bench); BENCH_BODY_LIMIT=0 leaves the body-limit middleware out of the
 * origin's wiring. BENCH_STRICT=1 exits 1 on a missed target.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile } from '../test/support/latency-pattern.ts';
import { sleep, waitFor } from '../test/support/wait.ts';
import { ensureLoopbackNamespace, finishBench, runBench } from './lib/harness.ts';
import { delays, procCpuMicros, runViewers, ServerProcess, sumErrors, wallNow } from './lib/origin-load.parent.ts';

const VIEWERS = (process.env.BENCH_VIEWERS ?? '250,1000,2000,4000').split(',').map(Number);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 3000);
const WINDOW_MS = Number(process.env.BENCH_SECONDS ?? 10) * 1000;
const LOAD_PROCS = Number(process.env.BENCH_LOAD_PROCS ?? 2);
const STRICT = process.env.BENCH_STRICT === '1';
/** BENCH_PER_PART=1: also print, for each part, how its release delays spread (is the tail one part's, or every part's?). */
const PER_PART = process.env.BENCH_PER_PART === '1';

ensureLoopbackNamespace();

interface Nginx {
  port: number;
  workerPid: number;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startNginx(dir: string, root: string): Promise<Nginx> {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `daemon off;
master_process on;
worker_processes 1;
user root root;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 16000; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/nginx-body;
  proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fastcgi;
  uwsgi_temp_path ${dir}/nginx-uwsgi;
  scgi_temp_path ${dir}/nginx-scgi;
  types { application/vnd.apple.mpegurl m3u8; video/mp4 mp4 m4s; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${root};
    location ~ \\.m3u8$ { add_header Cache-Control no-cache; }
    location ~ \\.(m4s|mp4)$ { add_header Cache-Control "public, max-age=31536000, immutable"; }
  }
}
`,
  );
  const master = spawn('nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'nginx-error.log')], { stdio: ['ignore', 'inherit', 'inherit'] });
  await waitFor('nginx listening', 10_000, () => canConnect(port));
  const workerPid = await waitFor('nginx worker', 10_000, () => {
    try {
      return Number(execFileSync('pgrep', ['-P', String(master.pid)], { encoding: 'utf8' }).trim().split('\n')[0]) || 0;
    } catch {
      return 0;
    }
  });
  return {
    port,
    workerPid,
    close: async () => {
      const exited = new Promise<void>((resolve) => (master.exitCode !== null ? resolve() : master.once('exit', () => resolve())));
      master.kill('SIGQUIT');
      const timer = setTimeout(() => master.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

interface SideResult {
  viewers: number;
  requestsPerSec: number;
  errors: Record<string, number>;
  errorCount: number;
  releaseP50: number;
  releaseP99: number;
  partP99: number;
  cpuPerRequestMicros: number;
  serverCoreShare: number;
  /** Each viewer process's CPU in the window, as a share of a core. */
  viewersCoreShares: number[];
  /** TcpExt ListenOverflows during the side's run (this network namespace: the servers' listen queues). */
  listenOverflows: number;
}

/** TcpExt ListenOverflows of this network namespace (connections dropped at a full accept queue). */
function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
  if (lines.length < 2) return NaN;
  const names = lines[0]!.split(' ');
  const values = lines[1]!.split(' ');
  return Number(values[names.indexOf('ListenOverflows')]);
}

async function side(
  kind: 'origin' | 'nginx',
  viewers: number,
  port: number,
  server: ServerProcess,
  playlistPath: string,
  partTargetMs: number,
  cpu: () => Promise<number>,
): Promise<SideResult> {
  await server.call({ op: 'publications' }); // forget earlier ones
  const overflows0 = listenOverflows();
  const start = wallNow();
  const windowStart = start + WARMUP_MS;
  const windowEnd = windowStart + WINDOW_MS;
  const running = runViewers(
    { mode: kind === 'origin' ? 'blocking' : 'polling', playlistPath, rampMs: WARMUP_MS / 2, partTargetMs, windowStart, windowEnd },
    viewers,
    [port],
    LOAD_PROCS,
  );
  await sleep(windowStart - wallNow());
  const cpu0 = await cpu();
  await sleep(windowEnd - wallNow());
  const cpu1 = await cpu();
  const results = await running;
  const overflows = listenOverflows() - overflows0;
  const pubs = await server.call<'publications'>({ op: 'publications' });
  const publications = kind === 'origin' ? pubs.origin : pubs.static;
  const requests = results.reduce((n, r) => n + r.requests, 0);
  const { errors, count: errorCount } = sumErrors(results);
  const release = delays(
    results.flatMap((r) => r.releases),
    publications,
  );
  const parts = delays(
    results.flatMap((r) => r.parts),
    publications,
  );
  if (PER_PART) printPerPart(kind, results.flatMap((r) => r.releases), publications);
  return {
    viewers,
    requestsPerSec: requests / (WINDOW_MS / 1000),
    errors,
    errorCount,
    releaseP50: percentile(release, 50),
    releaseP99: percentile(release, 99),
    partP99: percentile(parts, 99),
    cpuPerRequestMicros: requests > 0 ? (cpu1 - cpu0) / requests : NaN,
    serverCoreShare: (cpu1 - cpu0) / (WINDOW_MS * 1000),
    listenOverflows: overflows,
    viewersCoreShares: results.map((r) => (r.windowCpuMicros ?? NaN) / (WINDOW_MS * 1000)),
  };
}

function printPerPart(kind: string, triples: number[], publications: { msn: number; index: number; at: number }[]): void {
  const byPart = new Map<string, number[]>();
  for (let i = 0; i < triples.length; i += 3) {
    const key = `${triples[i]}.${triples[i + 1]}`;
    const list = byPart.get(key) ?? [];
    list.push(triples[i + 2]!);
    byPart.set(key, list);
  }
  for (const p of publications) {
    const times = byPart.get(`${p.msn}.${p.index}`);
    if (!times) continue;
    const d = times.map((t) => t - p.at);
    console.log(`    ${kind} part ${p.msn}.${p.index}: ${d.length} releases, p50 ${fmt(percentile(d, 50))} p90 ${fmt(percentile(d, 90))} p99 ${fmt(percentile(d, 99))} max ${fmt(Math.max(...d))} ms`);
  }
}

const fmt = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

function line(kind: string, r: SideResult): string {
  const errs =
    (r.errorCount === 0 ? '0' : `${r.errorCount} (${Object.entries(r.errors).map(([k, v]) => `${k}: ${v}`).join(', ')})`) +
    (r.listenOverflows > 0 ? ` [listen queue overflows ${r.listenOverflows}]` : '');
  return (
    `  ${kind.padEnd(6)} ${fmt(r.requestsPerSec, 0).padStart(6)} req/s  errors ${errs}  ` +
    `delay p50 ${fmt(r.releaseP50)} ms p99 ${fmt(r.releaseP99)} ms (part in hand p99 ${fmt(r.partP99)} ms)  ` +
    `CPU ${fmt(r.cpuPerRequestMicros)} µs/req (${fmt(r.serverCoreShare * 100, 0)}% of a core; generator ${r.viewersCoreShares.map((v) => `${fmt(v * 100, 0)}%`).join(' + ')})`
  );
}

async function main(): Promise<number> {
  const problems: string[] = [];
  if (!existsSync('/usr/sbin/nginx') && !(await canRun('nginx'))) {
    console.error('nginx not found: apt-get install -y nginx');
    return 1;
  }
  const load = loadavg();
  console.log(
    `load average before the run: ${load.map((l) => l.toFixed(2)).join(', ')}; origin from ${process.env.BENCH_ORIGIN_ROOT ?? 'this checkout'}` +
      (process.env.BENCH_BODY_LIMIT === '0' ? ', without the body-limit middleware' : ''),
  );
  const dir = await mkdtemp(join(tmpdir(), 'stagecast-origin-load-'));
  let server: ServerProcess | undefined;
  let nginx: Nginx | undefined;
  const rows: { n: number; origin: SideResult; nginx: SideResult }[] = [];
  try {
    const started = await ServerProcess.start(dir);
    server = started.server;
    const { port, partTargetSec, playlistPath } = started.ready;
    const partTargetMs = partTargetSec * 1000;
    const idle0 = await server.call<'cpu'>({ op: 'cpu' });
    await sleep(2000);
    const idle1 = await server.call<'cpu'>({ op: 'cpu' });
    console.log(`origin server idle (packager, ffmpeg pipe): ${fmt((idle1.micros - idle0.micros) / 20000)}% of a core; PART-TARGET ${partTargetSec} s`);
    nginx = await startNginx(dir, join(dir, 'static'));
    const nginxRef = nginx;
    for (const n of VIEWERS) {
      console.log(`N=${n}`);
      await server.call({ op: 'static', on: false });
      const serverRef = server;
      const origin = await side('origin', n, port, server, playlistPath, partTargetMs, async () => (await serverRef.call<'cpu'>({ op: 'cpu' })).micros);
      console.log(line('origin', origin));
      await server.call({ op: 'static', on: true });
      await sleep(1000);
      const ngx = await side('nginx', n, nginxRef.port, server, playlistPath, partTargetMs, async () => procCpuMicros(nginxRef.workerPid));
      console.log(line('nginx', ngx));
      console.log(`  origin/nginx CPU per request: ${fmt(origin.cpuPerRequestMicros / ngx.cpuPerRequestMicros, 2)}`);
      rows.push({ n, origin, nginx: ngx });
    }
  } finally {
    await nginx?.close();
    await server?.shutdown();
    await rm(dir, { recursive: true, force: true });
  }

  const targets: [string, boolean | undefined][] = [];
  const upTo2000 = rows.filter((r) => r.n <= 2000);
  targets.push(['0 errors up to 2000 viewers', upTo2000.length ? upTo2000.every((r) => r.origin.errorCount === 0) : undefined]);
  const at1000 = rows.find((r) => r.n === 1000);
  targets.push(['p99 release <= 50 ms at 1000 viewers', at1000 ? at1000.origin.releaseP99 <= 50 : undefined]);
  targets.push(['CPU per request <= 3x nginx at every N', rows.length ? rows.every((r) => r.origin.cpuPerRequestMicros <= 3 * r.nginx.cpuPerRequestMicros) : undefined]);
  for (const [what, met] of targets) {
    console.log(`${met === undefined ? 'N/A ' : met ? 'PASS' : 'FAIL'} ${what}`);
    if (met === false && STRICT) problems.push(`target missed: ${what}`);
  }
  console.log(`load average after the run: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  return finishBench(problems, () => rows);
}

async function canRun(cmd: string): Promise<boolean> {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

runBench(main);
