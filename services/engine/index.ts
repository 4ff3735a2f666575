import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, type Config } from '../core/config.ts';
import { UnsupportedError } from '../core/errors.ts';
import { logger } from '../core/logger.ts';
import { EmbeddedEngine } from './embedded/EmbeddedEngine.ts';
import type { EngineKind, EngineOptions, MediaEngine } from './EngineTypes.ts';
import type { MediasoupEngineOptions } from './mediasoup/options.ts';
import { ThreadedEngine } from './worker/ThreadedEngine.ts';

export type * from './EngineTypes.ts';

/** What `ENGINE` selects on this machine, and why (logged at start). */
export interface EngineChoice {
  kind: EngineKind;
  reason: string;
  /** The mediasoup worker binary, when kind is mediasoup. */
  workerBin?: string;
  /** The choice fell back because of a setting that looks wrong: log it as a warning. */
  warn?: true;
}

/**
 * Where `npm ci` (scripts/setup-mediasoup.mjs) puts mediasoup's worker binary, whether or not
 * it is there. Null when the mediasoup package itself is missing.
 */
export function bundledMediasoupWorkerPath(): string | null {
  let dir: string;
  try {
    // mediasoup's exports map hides its package.json: start from its main file and walk up.
    dir = path.dirname(createRequire(import.meta.url).resolve('mediasoup'));
  } catch {
    return null;
  }
  for (; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'mediasoup') {
      return path.join(dir, 'worker', 'out', 'Release', 'mediasoup-worker');
    }
  }
  return null;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Picks the engine. `embedded` always gives embedded; `mediasoup` needs a worker binary and
 * throws UnsupportedError (or ConfigError for a MEDIASOUP_WORKER_BIN that is not there)
 * without one; `auto` gives mediasoup when a worker binary exists and embedded otherwise.
 * MEDIASOUP_WORKER_BIN, when set, is the only binary considered. Reads the file system only to
 * see whether the binary is there and executable.
 */
export function chooseEngine(
  cfg: Pick<Config, 'ENGINE' | 'MEDIASOUP_WORKER_BIN'>,
  bundledWorkerBin: string | null = bundledMediasoupWorkerPath(),
): EngineChoice {
  if (cfg.ENGINE === 'embedded') return { kind: 'embedded', reason: 'ENGINE=embedded' };

  const configured = cfg.MEDIASOUP_WORKER_BIN;
  if (configured) {
    if (isExecutable(configured)) {
      return { kind: 'mediasoup', reason: `ENGINE=${cfg.ENGINE}, MEDIASOUP_WORKER_BIN=${configured}`, workerBin: configured };
    }
    const problem = `MEDIASOUP_WORKER_BIN=${configured} is ${existsSync(configured) ? 'not executable' : 'not there'}`;
    if (cfg.ENGINE === 'mediasoup') throw new ConfigError(`invalid MEDIASOUP_WORKER_BIN: ${problem}`);
    return { kind: 'embedded', reason: `${problem}; falling back`, warn: true };
  }

  if (bundledWorkerBin && isExecutable(bundledWorkerBin)) {
    return { kind: 'mediasoup', reason: `ENGINE=${cfg.ENGINE}, mediasoup worker binary at ${bundledWorkerBin}`, workerBin: bundledWorkerBin };
  }
  const missing = bundledWorkerBin ? `no mediasoup worker binary at ${bundledWorkerBin}` : 'the mediasoup package is not installed';
  if (cfg.ENGINE === 'mediasoup') {
    throw new UnsupportedError(`ENGINE=mediasoup: ${missing} (set MEDIASOUP_WORKER_BIN, or run npm ci where the worker can be downloaded)`);
  }
  return { kind: 'embedded', reason: missing };
}

/**
 * The mediasoup worker binary `auto` would use, if any. Kept for callers that only ask
 * whether mediasoup can run here (the engine contract test).
 */
export function findMediasoupWorker(cfg: Pick<Config, 'MEDIASOUP_WORKER_BIN'>): string | undefined {
  return chooseEngine({ ENGINE: 'auto', MEDIASOUP_WORKER_BIN: cfg.MEDIASOUP_WORKER_BIN }).workerBin;
}

export function engineOptions(cfg: Config): EngineOptions {
  return {
    listenIp: cfg.MEDIA_IP,
    ...(cfg.MEDIA_ANNOUNCED_IP ? { announcedIp: cfg.MEDIA_ANNOUNCED_IP } : {}),
    portRange: cfg.MEDIA_PORT_RANGE,
    iceServers: [],
    iceConnectTimeoutMs: cfg.ICE_CONNECT_TIMEOUT_MS,
  };
}

/**
 * The mediasoup engine's options. Port plan: worker i's WebRtcServer listens on
 * MEDIA_PORT_RANGE's first port + i; plain (RTP mirror) and pipe transports use the rest, so
 * the range must hold more ports than there are workers.
 */
export function mediasoupOptions(cfg: Config, workerBin: string): MediasoupEngineOptions {
  const numWorkers = cfg.MEDIASOUP_WORKERS || os.availableParallelism();
  const [min, max] = cfg.MEDIA_PORT_RANGE;
  if (max - min + 1 <= numWorkers) {
    throw new ConfigError(`invalid MEDIA_PORT_RANGE: ${min}-${max} has no ports left after one per mediasoup worker (${numWorkers})`);
  }
  return {
    ...engineOptions(cfg),
    workerBin,
    numWorkers,
    consumersPerWorker: cfg.MEDIASOUP_CONSUMERS_PER_WORKER,
    logLevel: cfg.MEDIASOUP_LOG_LEVEL,
  };
}

export async function createEngine(cfg: Config): Promise<MediaEngine> {
  const choice = chooseEngine(cfg);
  const log = logger.child({ mod: 'engine' });
  const chosen = { engine: choice.kind, reason: choice.reason };
  if (choice.warn) log.warn(chosen, 'media engine chosen');
  else log.info(chosen, 'media engine chosen');

  if (choice.kind === 'mediasoup' && choice.workerBin) {
    const options = mediasoupOptions(cfg, choice.workerBin);
    // Imported here so that the embedded path never loads mediasoup.
    const { MediasoupEngine } = await import('./mediasoup/MediasoupEngine.ts');
    const engine = await MediasoupEngine.start(options);
    log.info({ engine: 'mediasoup', workers: options.numWorkers, listenIp: options.listenIp }, 'media engine started');
    return engine;
  }

  const options = engineOptions(cfg);
  const engine = cfg.ENGINE_WORKER_THREAD ? await ThreadedEngine.start(options) : new EmbeddedEngine(options);
  log.info({ engine: 'embedded', thread: cfg.ENGINE_WORKER_THREAD, listenIp: options.listenIp }, 'media engine started');
  return engine;
}
