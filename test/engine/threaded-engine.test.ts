import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { ThreadedEngine } from '../../services/engine/worker/ThreadedEngine.ts';

const options = { listenIp: '127.0.0.1', portRange: [42000, 42999] as [number, number] };

test('a dead engine thread fails pending and later calls with engine_error and emits died', async () => {
  const engine = await ThreadedEngine.start(options);
  await engine.createRoom('r');
  assert.deepEqual(await engine.listTracks('r'), []);
  const died = once(engine, 'died');
  // Simulate a crash of the thread (as a native fault or an out-of-memory would end it).
  await (engine as unknown as { worker: Worker }).worker.terminate();
  const [reason] = (await died) as [string];
  assert.match(reason, /exited/);
  await assert.rejects(engine.listTracks('r'), (err: { code?: string }) => err.code === 'engine_error');
  await engine.close();
});

test('errors thrown on the engine thread keep their class and code across the boundary', async () => {
  const engine = await ThreadedEngine.start(options);
  try {
    await assert.rejects(engine.listTracks('missing'), (err: { code?: string }) => err.code === 'not_found');
    await engine.createRoom('r');
    await assert.rejects(engine.publish('r', 'p', 'not sdp'), (err: Error & { code?: string }) => err.name === 'InvalidSdpError' && err.code === 'invalid_sdp');
    await assert.rejects(engine.answerSubscriber('r', 'nobody', 1, 'v=0'), (err: { code?: string }) => err.code === 'invalid_state');
  } finally {
    await engine.close();
  }
});
