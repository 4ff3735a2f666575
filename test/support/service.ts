import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { EngineKind } from '../../services/engine/EngineTypes.ts';

const MAIN = fileURLToPath(new URL('../../services/server/main.ts', import.meta.url));

/** Of each warning or error message of a service, how many reach the test's output. */
const WARNINGS_SHOWN = 3;

export interface RunningService {
  url: string;
  apiKey: string;
  jwtSecret: string;
  child: ChildProcess;
  /** Its HLS storage folder (STORAGE_DIR), removed by stop() unless the caller chose it. */
  storageDir: string;
  /** Every log line (parsed JSON) the service printed so far. */
  logs: Record<string, unknown>[];
  api(path: string, init?: RequestInit): Promise<Response>;
  createRoom(id?: string): Promise<string>;
  token(room: string, identity: string, role: 'presenter' | 'moderator' | 'viewer'): Promise<string>;
  /** SIGTERM, then SIGKILL after 5 s. Resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface StartServiceOptions {
  /** Sets ENGINE. Default: unset, so the service picks (`auto`). */
  engine?: EngineKind;
  /** How long the service may take to print `listening`, ms. Default 15000. */
  startTimeoutMs?: number;
}

/**
 * Starts the real service (`node services/server/main.ts`) as a child process on a free
 * port, with fresh secrets and its own data directory (HLS storage, webhook outbox; removed
 * on stop unless the caller chose the paths), and waits for its `listening` log line.
 * MEDIASOUP_WORKER_BIN is passed on from this process, so the service finds the same worker
 * binary the tests' engine list (test/support/engines.ts) found.
 */
let servicesStarted = 0;

/**
 * 20 ranges of 500 ports in 22000-31999, in turn: below the kernel's ephemeral ports (32768 and
 * up), so no other socket can hold a fixed port, and clear of the reconnect test's own range.
 */
function nextMediaPortRange(): string {
  const base = 22000 + 500 * (servicesStarted++ % 20);
  return `${base}-${base + 499}`;
}

export async function startService(env: Record<string, string> = {}, options: StartServiceOptions = {}): Promise<RunningService> {
  const apiKey = `test_${randomBytes(16).toString('hex')}`;
  const jwtSecret = randomBytes(32).toString('hex');
  const dataDir = mkdtempSync(join(tmpdir(), 'stagecast-service-'));
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      API_KEY: apiKey,
      JWT_SECRET: jwtSecret,
      LOG_LEVEL: 'info',
      STORAGE_DIR: join(dataDir, 'hls'),
      WEBHOOK_DB_PATH: join(dataDir, 'webhooks.db'),
      ...(process.env.MEDIASOUP_WORKER_BIN ? { MEDIASOUP_WORKER_BIN: process.env.MEDIASOUP_WORKER_BIN } : {}),
      ...(options.engine ? { ENGINE: options.engine } : {}),
      // mediasoup binds each worker's WebRtcServer to a fixed port (the range's first ones): give
      // every service that may run it a range of its own, so two services never collide.
      ...(options.engine !== 'embedded' ? { MEDIA_PORT_RANGE: nextMediaPortRange() } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const warned = new Map<string, number>();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (process.env.SERVICE_LOGS) process.stderr.write(d);
  });
  const listening = new Promise<string>((resolve, reject) => {
    const startTimeoutMs = options.startTimeoutMs ?? 15000;
    const timer = setTimeout(() => reject(new Error(`service did not start in ${startTimeoutMs / 1000} s\n${stderr}`)), startTimeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code} before listening\n${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (process.env.SERVICE_LOGS) process.stderr.write(`[service] ${line}\n`);
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line);
      } catch {
        return;
      }
      logs.push(rec);
      // Warnings and errors reach the test's output (a failure's cause is often there), the first
      // few of each message; the rest with SERVICE_LOGS.
      if (!process.env.SERVICE_LOGS && typeof rec.level === 'number' && rec.level >= 40) {
        const seen = (warned.get(String(rec.msg)) ?? 0) + 1;
        warned.set(String(rec.msg), seen);
        if (seen <= WARNINGS_SHOWN) process.stderr.write(`[service] ${seen === WARNINGS_SHOWN ? '(last of this message shown) ' : ''}${line.slice(0, 2000)}\n`);
      }
      if (rec.msg === 'listening' && typeof rec.url === 'string') {
        clearTimeout(timer);
        resolve(rec.url);
      }
    });
  });
  let url: string;
  try {
    url = await listening;
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }

  return {
    ...serviceClient(url, apiKey),
    apiKey,
    jwtSecret,
    child,
    storageDir: env.STORAGE_DIR ?? join(dataDir, 'hls'),
    logs,
    async stop() {
      let code = child.exitCode;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
        [code] = (await once(child, 'exit')) as [number | null];
        clearTimeout(killer);
      }
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

export type ServiceClient = Pick<RunningService, 'url' | 'api' | 'createRoom' | 'token'>;

/** The REST helpers for a service at `url` (one these helpers started, or any other). */
export function serviceClient(url: string, apiKey: string): ServiceClient {
  const base = url.replace(/\/$/, '');
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
  return {
    url: base,
    api,
    async createRoom(id?: string) {
      const res = await api('/api/rooms', { method: 'POST', body: JSON.stringify(id ? { id } : {}) });
      if (res.status !== 201) throw new Error(`createRoom: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { id: string }).id;
    },
    async token(room, identity, role) {
      const res = await api(`/api/rooms/${encodeURIComponent(room)}/tokens`, { method: 'POST', body: JSON.stringify({ identity, role }) });
      if (res.status !== 201) throw new Error(`token: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { token: string }).token;
    },
  };
}
