import { loadConfig } from '../../services/core/config.ts';
import type { MediaEngine } from '../../services/engine/EngineTypes.ts';
import { createEngine } from '../../services/engine/index.ts';

/**
 * A mediasoup engine for engine-level tests, on MEDIA_PORT_RANGE `portBase`–`portBase + 199`:
 * each worker's WebRtcServer binds a fixed port of it (the first worker's is `portBase`), so
 * every engine a run makes needs a range of its own, below the kernel's ephemeral ports.
 */
export function mediasoupTestEngine(portBase: number, env: Record<string, string> = {}): Promise<MediaEngine> {
  return createEngine(
    loadConfig({
      API_KEY: 'mediasoup-engine-test-unused',
      JWT_SECRET: 'mediasoup-engine-test-unused-mediasoup-engine-test-unused',
      ENGINE: 'mediasoup',
      MEDIA_IP: '127.0.0.1',
      MEDIA_PORT_RANGE: `${portBase}-${portBase + 199}`,
      MEDIASOUP_WORKER_BIN: process.env.MEDIASOUP_WORKER_BIN,
      ...env,
    }),
  );
}
