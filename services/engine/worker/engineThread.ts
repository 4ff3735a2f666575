// Worker-thread entry: hosts an engine and serves calls from ThreadedEngine on the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { ServiceError } from '../../core/errors.ts';
import { logger } from '../../core/logger.ts';
import { EmbeddedEngine } from '../embedded/EmbeddedEngine.ts';
import type { EngineEvents } from '../EngineTypes.ts';
import type { EngineThreadData, FromThread, ToThread } from './protocol.ts';

const port = parentPort!;
const data = workerData as EngineThreadData;
const engine = new EmbeddedEngine(data.options);
const post = (msg: FromThread) => port.postMessage(msg);

const events: (keyof EngineEvents)[] = ['subscriberoffer', 'trackpublished', 'trackunpublished', 'legclosed', 'died'];
for (const name of events) {
  engine.on(name, (...args: unknown[]) => post({ t: 'event', name, args }));
}

port.on('message', async (msg: ToThread) => {
  if (msg.t !== 'call') return;
  try {
    const fn = engine[msg.method] as (...a: unknown[]) => Promise<unknown>;
    const value = await fn.apply(engine, msg.args);
    post({ t: 'result', id: msg.id, ok: true, value });
  } catch (err) {
    const known = err instanceof ServiceError;
    if (!known) logger.error({ method: msg.method, err: String(err) }, 'engine call failed');
    post({
      t: 'result',
      id: msg.id,
      ok: false,
      error: known
        ? { name: err.name, code: err.code, message: err.message, status: err.status }
        : { name: 'ServiceError', code: 'engine_error', message: 'media engine error', status: 502 },
    });
  }
});

post({ t: 'ready' });
