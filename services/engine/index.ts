import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Config } from '../core/config.ts';
import { UnsupportedError } from '../core/errors.ts';
import { logger } from '../core/logger.ts';
import { EmbeddedEngine } from './embedded/EmbeddedEngine.ts';
import type { EngineKind, EngineOptions, MediaEngine } from './EngineTypes.ts';
import { ThreadedEngine } from './worker/ThreadedEngine.ts';

export type * from './EngineTypes.ts';

/**
 * Where mediasoup's worker binary is, if anywhere: MEDIASOUP_WORKER_BIN, or the one mediasoup's
 * own install put under its package. Undefined when there is none (as on machines that cannot
 * reach mediasoup's download hosts).
 */
export function findMediasoupWorker(cfg: Pick<Config, 'MEDIASOUP_WORKER_BIN'>): string | undefined {
  if (cfg.MEDIASOUP_WORKER_BIN) return existsSync(cfg.MEDIASOUP_WORKER_BIN) ? cfg.MEDIASOUP_WORKER_BIN : undefined;
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve('mediasoup/package.json');
    const bin = pkg.replace(/package\.json$/, 'worker/out/Release/mediasoup-worker');
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

/** Which engine `ENGINE` selects on this machine. `auto` picks embedded until the mediasoup engine lands. */
export function resolveEngineKind(cfg: Pick<Config, 'ENGINE' | 'MEDIASOUP_WORKER_BIN'>): EngineKind {
  if (cfg.ENGINE === 'mediasoup') {
    throw new UnsupportedError(
      findMediasoupWorker(cfg)
        ? 'ENGINE=mediasoup: the mediasoup engine is not built yet; use ENGINE=embedded or auto'
        : 'ENGINE=mediasoup: no mediasoup worker binary (set MEDIASOUP_WORKER_BIN)',
    );
  }
  return 'embedded';
}

export function engineOptions(cfg: Config): EngineOptions {
  return {
    listenIp: cfg.MEDIA_IP,
    ...(cfg.MEDIA_ANNOUNCED_IP ? { announcedIp: cfg.MEDIA_ANNOUNCED_IP } : {}),
    portRange: cfg.MEDIA_PORT_RANGE,
    iceServers: [],
  };
}

export async function createEngine(cfg: Config): Promise<MediaEngine> {
  const kind = resolveEngineKind(cfg);
  const options = engineOptions(cfg);
  const engine = cfg.ENGINE_WORKER_THREAD ? await ThreadedEngine.start(options) : new EmbeddedEngine(options);
  logger.info({ engine: kind, thread: cfg.ENGINE_WORKER_THREAD, listenIp: options.listenIp }, 'media engine started');
  return engine;
}
