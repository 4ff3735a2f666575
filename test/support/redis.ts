import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { sleep } from './wait.ts';

export const REDIS_SERVER_PATH = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server';

/** Why the cluster tests cannot run here, or undefined. */
export function redisUnavailable(): string | undefined {
  return existsSync(REDIS_SERVER_PATH) ? undefined : `no redis-server at ${REDIS_SERVER_PATH} (apt-get install redis-server, or set REDIS_SERVER_PATH)`;
}

export interface RunningRedis {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Sends PING until redis answers PONG. */
async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const pong = await new Promise<boolean>((resolve) => {
      const sock = createConnection({ port, host: '127.0.0.1' });
      sock.once('error', () => resolve(false));
      sock.once('data', (d) => {
        sock.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
      sock.once('connect', () => sock.write('PING\r\n'));
    });
    if (pong) return;
    if (Date.now() > end) throw new Error(`redis-server did not answer on ${port} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Debian's redis-server on 127.0.0.1, a free port, no persistence, in a temporary directory. */
export async function startRedis(): Promise<RunningRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'stagecast-redis-'));
  const child = spawn(REDIS_SERVER_PATH, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  try {
    await waitForPong(port, 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message}\n${output}`, { cause: err });
  }
  let closed: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    close: () =>
      (closed ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          await once(child, 'exit');
        }
        await rm(dir, { recursive: true, force: true });
      })()),
  };
}
