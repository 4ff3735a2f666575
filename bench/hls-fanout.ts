/**
 * HLS fan-out bench: N simulated LL-HLS viewers against one node's origin directly, and against
 * two nginx caching edges (infra/nginx/edge.conf) in front of that origin, in one run.
 *
 *   node bench/hls-fanout.ts          (npm run bench:hls-fanout)
 *
 * Re-executes itself inside `unshare -n` with only loopback up (bench/lib/harness.ts). The
 * parts come from bench/origin-load's server process (a live packager fed by a real ffmpeg,
 * 0.2 s parts, 1 s segments, one rendition `v`, the origin wired as the service wires it),
 * which here also counts the requests that reach it. The viewers are origin-load's
 * (bench/lib/origin-load.viewers.ts, BENCH_LOAD_PROCS processes, default 2, keep-alive
 * HTTP/1.1, one connection per viewer): each does what hls.js does in low-latency mode, a
 * blocking reload for the next part (_HLS_msn/_HLS_part), then that part. Against the edges,
 * viewer process i talks to edge i % 2. Each edge is Debian's nginx with one worker.
 *
 * For each N in BENCH_VIEWERS (default 250,500,1000,2000,5000), direct then through the edges,
 * with a BENCH_WARMUP_MS ramp (default 3000) and a BENCH_SECONDS window (default 10), it prints:
 * origin requests per playlist version (blocking reloads per (msn, part) asked for; mean and
 * max) and per part of rendition `v`; the delay from a part's publication (the packager's part
 * event) to the viewer holding it, p50/p99; errors (non-200, resets, 10 s timeouts); the
 * requests the viewers completed per second, against the two per viewer per part they ask;
 * CPU of the origin's process, of the edges' workers (/proc) and of the viewer processes, as a
 * share of one core, with the edges' and viewers' time in the kernel, all over the window; and
 * the CPU per completed request (origin or edges, and viewers), with the cores the asked rate
 * would need at that cost.
 * Then the largest N one origin alone holds (0 errors, p99 <= 150 ms) and the targets at the
 * largest N through the edges: at most one origin request per edge per playlist version,
 * 0 errors, p99 <= 150 ms. BENCH_STRICT=1 exits 1 on a missed target.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile } from '../test/support/latency-pattern.ts';
import { luaMissing, nginxMissing, startEdge, type EdgeVariant, type RunningNginx } from '../test/support/nginxEdge.ts';
import { sleep } from '../test/support/wait.ts';
import { ensureLoopbackNamespace, finishBench, runBench } from './lib/harness.ts';
import { delays, procCpuSplitMicros, runViewers, ServerProcess, sumErrors, wallNow } from './lib/origin-load.parent.ts';
import type { Publication, RequestCounts } from './lib/origin-load.protocol.ts';

const VIEWERS = (process.env.BENCH_VIEWERS ?? '250,500,1000,2000,5000').split(',').map(Number);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 3000);
const WINDOW_MS = Number(process.env.BENCH_SECONDS ?? 10) * 1000;
const LOAD_PROCS = Number(process.env.BENCH_LOAD_PROCS ?? 2);
const STRICT = process.env.BENCH_STRICT === '1';
const EDGES = 2;
const VARIANTS = (process.env.BENCH_EDGE_VARIANTS ?? (luaMissing() ? 'lock' : 'lock,lua')).split(',') as EdgeVariant[];
const P99_TARGET_MS = 150;

ensureLoopbackNamespace();

/** Every part published since the start: a viewer far behind live still finds its part's time. */
const published: Publication[] = [];

interface Result {
  viewers: number;
  errors: Record<string, number>;
  errorCount: number;
  partP50: number;
  partP99: number;
  playlistReqsMean: number;
  playlistReqsMax: number;
  partReqsMean: number;
  partReqsMax: number;
  originCore: number;
  edgesCore: number[];
  /** The edges' time in the kernel (system time), as a share of a core. */
  edgesSystemCore: number[];
  /** Each viewer process's. */
  viewersCore: number[];
  viewersSystemCore: number[];
  /** Requests the viewers were to make per second: two per viewer per part (a blocking reload, then the part). */
  askedPerSec: number;
  /** Requests the viewers completed in the window, per second. */
  reqPerSec: number;
}

function perKey(counts: Record<string, number>): { mean: number; max: number } {
  const values = Object.values(counts);
  if (values.length === 0) return { mean: NaN, max: NaN };
  return { mean: values.reduce((a, b) => a + b, 0) / values.length, max: Math.max(...values) };
}

async function side(server: ServerProcess, viewers: number, ports: number[], edges: RunningNginx[], playlistPath: string, partTargetMs: number): Promise<Result> {
  published.push(...(await server.call<'publications'>({ op: 'publications' })).origin);
  const start = wallNow();
  const windowStart = start + WARMUP_MS;
  const windowEnd = windowStart + WINDOW_MS;
  const running = runViewers({ mode: 'blocking', playlistPath, rampMs: WARMUP_MS / 2, partTargetMs, windowStart, windowEnd }, viewers, ports, LOAD_PROCS);
  await sleep(windowStart - wallNow());
  const pids = edges.map((e) => e.workers());
  const edgeCpu = () =>
    pids.map((list) =>
      list.reduce(
        (n, pid) => {
          const { user, system } = procCpuSplitMicros(pid);
          return { all: n.all + user + system, system: n.system + system };
        },
        { all: 0, system: 0 },
      ),
    );
  await server.call({ op: 'requests' }); // forget the ramp's
  const origin0 = (await server.call<'cpu'>({ op: 'cpu' })).micros;
  const edges0 = edgeCpu();
  await sleep(windowEnd - wallNow());
  const origin1 = (await server.call<'cpu'>({ op: 'cpu' })).micros;
  const respawned = edges.some((e, i) => e.workers().join() !== pids[i]!.join());
  if (respawned) throw new Error(`an edge worker died during the window:\n${edges.map((e) => e.errorLog().slice(-2000)).join('\n')}`);
  for (const edge of edges) {
    const exits = edge.errorLog().match(/.*exited on signal.*/g);
    if (exits) console.log(`  an edge worker was replaced before this window: ${exits.join('; ')}`);
  }
  const edges1 = edgeCpu();
  const { counts } = await server.call<'requests'>({ op: 'requests' });
  const results = await running;
  published.push(...(await server.call<'publications'>({ op: 'publications' })).origin);
  const parts = delays(
    results.flatMap((r) => r.parts),
    published,
  );
  const { errors, count } = sumErrors(results);
  const playlists = perKey(counts.blocking);
  const media = perKey(partCounts(counts));
  const windowMicros = WINDOW_MS * 1000;
  return {
    viewers,
    errors,
    errorCount: count,
    partP50: percentile(parts, 50),
    partP99: percentile(parts, 99),
    playlistReqsMean: playlists.mean,
    playlistReqsMax: playlists.max,
    partReqsMean: media.mean,
    partReqsMax: media.max,
    originCore: (origin1 - origin0) / windowMicros,
    edgesCore: edges1.map((v, i) => (v.all - edges0[i]!.all) / windowMicros),
    edgesSystemCore: edges1.map((v, i) => (v.system - edges0[i]!.system) / windowMicros),
    viewersCore: results.map((r) => (r.windowCpuMicros ?? NaN) / windowMicros),
    viewersSystemCore: results.map((r) => (r.windowSystemMicros ?? NaN) / windowMicros),
    askedPerSec: (viewers * 2 * 1000) / partTargetMs,
    reqPerSec: results.reduce((n, r) => n + r.requests, 0) / (WINDOW_MS / 1000),
  };
}

/** Parts only (their names start with `part`; inits and segments are fetched by no viewer here). */
function partCounts(counts: RequestCounts): Record<string, number> {
  return Object.fromEntries(Object.entries(counts.media).filter(([name]) => name.startsWith('part-')));
}

const fmt = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const pct = (share: number) => `${fmt(share * 100, 0)}%`;

function line(kind: string, r: Result): string {
  const errs = r.errorCount === 0 ? '0' : `${r.errorCount} (${Object.entries(r.errors).map(([k, v]) => `${k}: ${v}`).join(', ')})`;
  const edges = r.edgesCore.length ? `  edges ${r.edgesCore.map(pct).join(' + ')} (kernel ${r.edgesSystemCore.map(pct).join(' + ')})` : '';
  const sum = (list: number[]) => list.reduce((a, b) => a + b, 0);
  // CPU per completed request, and what the asked rate would need of the machine's cores at that cost.
  const perRequest = (cores: number) => (cores * 1e6) / r.reqPerSec;
  const server: [string, number] = r.edgesCore.length ? ['edges', sum(r.edgesCore)] : ['origin', r.originCore];
  const costs: [string, number][] = [server, ['viewers', sum(r.viewersCore)]];
  const needed = costs.reduce((n, [, cores]) => n + (cores / r.reqPerSec) * r.askedPerSec, 0);
  return (
    `  ${kind.padEnd(7)} part delay p50 ${fmt(r.partP50)} ms p99 ${fmt(r.partP99)} ms  errors ${errs}\n` +
    `          origin requests per playlist version (v) mean ${fmt(r.playlistReqsMean, 2)} max ${fmt(r.playlistReqsMax, 0)}, per part (v) mean ${fmt(r.partReqsMean, 2)} max ${fmt(r.partReqsMax, 0)}\n` +
    `          ${fmt(r.reqPerSec, 0)} of ${fmt(r.askedPerSec, 0)} req/s asked; CPU of a core: origin ${pct(r.originCore)}${edges}, viewers ${r.viewersCore.map(pct).join(' + ')} (kernel ${r.viewersSystemCore.map(pct).join(' + ')})\n` +
    `          CPU per request: ${costs.map(([who, cores]) => `${who} ${fmt(perRequest(cores))} µs`).join(', ')}; the asked rate at that cost needs ${fmt(needed, 2)} cores (this machine: ${availableParallelism()})`
  );
}

const holds = (r: Result) => r.errorCount === 0 && r.partP99 <= P99_TARGET_MS;

async function main(): Promise<number> {
  const missing = nginxMissing();
  if (missing) {
    console.error(missing);
    return 1;
  }
  console.log(`load average before the run: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  const dir = await mkdtemp(join(tmpdir(), 'stagecast-hls-fanout-'));
  let server: ServerProcess | undefined;
  const edges = new Map<EdgeVariant, RunningNginx[]>();
  const rows: { n: number; direct: Result; edges: Partial<Record<EdgeVariant, Result>> }[] = [];
  try {
    const started = await ServerProcess.start(dir, { BENCH_COUNT_REQUESTS: '1' });
    server = started.server;
    const { port, partTargetSec, playlistPath } = started.ready;
    const most = Math.max(...VIEWERS);
    for (const variant of VARIANTS) {
      const pair: RunningNginx[] = [];
      edges.set(variant, pair);
      for (let i = 0; i < EDGES; i++) {
        pair.push(await startEdge({ variant, upstreams: [`127.0.0.1:${port}`], dir: join(dir, `${variant}${i}`), workerConnections: Math.ceil(most / EDGES) + 1000 }));
      }
    }
    console.log(
      `PART-TARGET ${partTargetSec} s; ${EDGES} edges (nginx, 1 worker each) per variant: ${VARIANTS.map((v) => (v === 'lock' ? 'lock (edge.conf)' : 'lua (edge-lua.conf)')).join(', ')}; ${LOAD_PROCS} viewer processes`,
    );
    for (const n of VIEWERS) {
      console.log(`N=${n}`);
      const direct = await side(server, n, [port], [], playlistPath, partTargetSec * 1000);
      console.log(line('direct', direct));
      const row: (typeof rows)[number] = { n, direct, edges: {} };
      for (const [variant, pair] of edges) {
        await sleep(1000);
        row.edges[variant] = await side(
          server,
          n,
          pair.map((e) => e.port),
          pair,
          playlistPath,
          partTargetSec * 1000,
        );
        console.log(line(variant, row.edges[variant]));
      }
      rows.push(row);
      await sleep(1000);
    }
  } finally {
    for (const edge of [...edges.values()].flat()) await edge.close();
    await server?.shutdown();
    await rm(dir, { recursive: true, force: true });
  }

  const problems: string[] = [];
  const held = rows.filter((r) => holds(r.direct)).map((r) => r.n);
  console.log(`largest N one origin alone holds (0 errors, part p99 <= ${P99_TARGET_MS} ms): ${held.length ? Math.max(...held) : `none of ${VIEWERS.join(', ')}`}`);
  const top = rows.at(-1);
  const targets: [string, boolean | undefined][] = VARIANTS.flatMap((variant): [string, boolean | undefined][] => {
    const r = top?.edges[variant];
    return [
      [`N=${top?.n}, ${variant} edges: origin requests per playlist version <= ${EDGES} (one per edge)`, r ? r.playlistReqsMax <= EDGES : undefined],
      [`N=${top?.n}, ${variant} edges: 0 errors`, r ? r.errorCount === 0 : undefined],
      [`N=${top?.n}, ${variant} edges: part p99 <= ${P99_TARGET_MS} ms`, r ? r.partP99 <= P99_TARGET_MS : undefined],
    ];
  });
  for (const [what, met] of targets) {
    console.log(`${met === undefined ? 'N/A ' : met ? 'PASS' : 'FAIL'} ${what}`);
    if (met === false && STRICT) problems.push(`target missed: ${what}`);
  }
  console.log(`load average after the run: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  return finishBench(problems, () => rows);
}

runBench(main);
