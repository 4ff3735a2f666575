import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export const TURNSERVER_PATH = process.env.TURNSERVER_PATH ?? '/usr/bin/turnserver';

export interface RunningCoturn {
  /** e.g. `turn:127.0.0.1:34567?transport=udp` */
  urls: string[];
  port: number;
  secret: string;
  /** Every line coturn logged. */
  logs: string[];
  close(): Promise<void>;
}

/** Sends STUN Binding requests until one is answered: coturn is listening. */
async function waitForStun(port: number, timeoutMs: number): Promise<void> {
  const sock = createSocket('udp4');
  const request = Buffer.alloc(20);
  request.writeUInt16BE(0x0001, 0);
  request.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(request, 8);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`coturn did not answer STUN on ${port} within ${timeoutMs} ms`)), timeoutMs);
      const tick = setInterval(() => sock.send(request, port, '127.0.0.1'), 100);
      sock.on('message', (msg) => {
        if (msg.readUInt16BE(0) === 0x0101) {
          clearTimeout(timer);
          clearInterval(tick);
          resolve();
        }
      });
      sock.send(request, port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

/**
 * Debian's coturn on 127.0.0.1, started from a generated config: TURN REST shared secret,
 * a free listening port, relays on 127.0.0.1 with loopback peers allowed (the test network
 * namespace has only loopback), no TLS, no CLI. Resolves once it answers STUN.
 */
export async function startCoturn(opts: { secret?: string } = {}): Promise<RunningCoturn> {
  const secret = opts.secret ?? randomBytes(24).toString('hex');
  const port = await freePort();
  const relayBase = 20000 + Math.floor(Math.random() * 400) * 100;
  const dir = await mkdtemp(join(tmpdir(), 'stagecast-coturn-'));
  const conf = [
    `listening-ip=127.0.0.1`,
    `listening-port=${port}`,
    `relay-ip=127.0.0.1`,
    `min-port=${relayBase}`,
    `max-port=${relayBase + 99}`,
    'use-auth-secret',
    `static-auth-secret=${secret}`,
    'realm=stagecast-test',
    'fingerprint',
    'allow-loopback-peers',
    'no-tls',
    'no-dtls',
    'no-cli',
    'no-tcp-relay',
    'no-multicast-peers',
    `pidfile=${join(dir, 'turnserver.pid')}`,
    'log-file=stdout',
    'simple-log',
    'verbose',
  ].join('\n');
  const confPath = join(dir, 'turnserver.conf');
  await writeFile(confPath, conf + '\n');
  const child: ChildProcess = spawn(TURNSERVER_PATH, ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const onData = (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (line.trim()) logs.push(line);
    if (process.env.COTURN_LOGS) process.stderr.write(d);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = once(child, 'exit');
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      waitForStun(port, 10000),
      exited.then(([code]) => {
        throw new Error(`turnserver exited with ${code}\n${logs.slice(-20).join('\n')}`);
      }),
    ]);
  } catch (err) {
    await close();
    throw err;
  }
  return { urls: [`turn:127.0.0.1:${port}?transport=udp`], port, secret, logs, close };
}
