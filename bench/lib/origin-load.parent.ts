// The parent's side of the origin-load processes (bench/lib/origin-load.server.ts and
// bench/lib/origin-load.viewers.ts), shared by bench/origin-load.ts and bench/hls-fanout.ts.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Publication, ServerReply, ServerRequest, ViewerReply, ViewerRun } from './origin-load.protocol.ts';

const BENCH_LIB = fileURLToPath(new URL('./', import.meta.url));

export const wallNow = () => performance.timeOrigin + performance.now();

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process (all threads), microseconds. */
export function procCpuMicros(pid: number): number {
  const { user, system } = procCpuSplitMicros(pid);
  return user + system;
}

/** utime and stime of a process (all threads), microseconds: its time in user space and in the kernel. */
export function procCpuSplitMicros(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(fields[11]) * 1e6) / clockTicks, system: (Number(fields[12]) * 1e6) / clockTicks };
}

/** The origin under test (a live packager fed by ffmpeg, the origin in front), in its own process. */
export class ServerProcess {
  readonly child: ChildProcess;
  private readonly waiting: ((msg: ServerReply) => void)[] = [];
  private constructor(child: ChildProcess) {
    this.child = child;
    child.on('message', (msg: ServerReply) => this.waiting.shift()?.(msg));
  }

  static async start(dir: string, env: Record<string, string> = {}): Promise<{ server: ServerProcess; ready: Extract<ServerReply, { op: 'ready' }> }> {
    const child = fork(join(BENCH_LIB, 'origin-load.server.ts'), [], {
      // The service's stdout is its log: it goes somewhere that costs a write, as in production.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, BENCH_DIR: dir, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', ...env },
    });
    const ready = await new Promise<ServerReply>((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`origin server exited during start (${code})`)));
    });
    if (ready.op !== 'ready') throw new Error(`unexpected ${ready.op} from the origin server`);
    return { server: new ServerProcess(child), ready };
  }

  call<K extends ServerReply['op']>(req: ServerRequest): Promise<Extract<ServerReply, { op: K }>> {
    return new Promise((resolve) => {
      this.waiting.push(resolve as (msg: ServerReply) => void);
      this.child.send(req);
    });
  }

  async shutdown(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ op: 'shutdown' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

export type ViewersDone = Extract<ViewerReply, { op: 'done' }>;

/**
 * `viewers` simulated viewers in `procs` child processes, shared out evenly; process i talks to
 * `ports[i % ports.length]` (one origin, or one edge each).
 */
export async function runViewers(cfg: Omit<ViewerRun, 'viewers' | 'port'>, viewers: number, ports: number[], procs: number): Promise<ViewersDone[]> {
  const n = Math.max(1, Math.min(procs, viewers));
  const runs: Promise<ViewersDone>[] = [];
  for (let i = 0; i < n; i++) {
    const share = Math.floor(viewers / n) + (i < viewers % n ? 1 : 0);
    const child = fork(join(BENCH_LIB, 'origin-load.viewers.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    runs.push(
      new Promise((resolve, reject) => {
        child.on('message', (msg: ViewerReply) => {
          if (msg.op === 'ready') child.send({ ...cfg, port: ports[i % ports.length]!, viewers: share } satisfies ViewerRun);
          else resolve(msg);
        });
        // 'exit' can be seen before the last IPC message is read: give that message a moment.
        child.once('exit', (code) => setTimeout(() => reject(new Error(`viewer process exited (${code})`)), 2000));
      }),
    );
  }
  return Promise.all(runs);
}

/** Delays (ms) of flattened (msn, part, time) triples against the first publication at or after (msn, part). */
export function delays(triples: number[], publications: Publication[]): number[] {
  const at = new Map(publications.map((p) => [`${p.msn}/${p.index}`, p.at]));
  const out: number[] = [];
  for (let i = 0; i < triples.length; i += 3) {
    const [msn, part, t] = [triples[i]!, triples[i + 1]!, triples[i + 2]!];
    const published = at.get(`${msn}/${part}`) ?? at.get(`${msn + 1}/0`);
    if (published !== undefined) out.push(t - published);
  }
  return out;
}

/** Errors of all viewer processes, by kind, and their total. */
export function sumErrors(results: ViewersDone[]): { errors: Record<string, number>; count: number } {
  const errors: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  return { errors, count: Object.values(errors).reduce((a, b) => a + b, 0) };
}
