import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AttemptsExhaustedError,
  DEFAULT_RECONNECT_DELAYS_MS,
  checkReconnectDelays,
  isRecoverable,
  retryWithBackoff,
} from '../../player/src/webrtc/reconnect-policy.ts';
import { SIMULCAST_ENCODINGS, simulcastEncodings, spatialLayerForWidth } from '../../player/src/webrtc/simulcast.ts';

/** The player's reconnect and simulcast policies (plain functions, no browser). */
describe('player: reconnect policy', () => {
  it('only faults are recoverable; decisions are not', () => {
    assert.equal(isRecoverable('engine_died'), true);
    assert.equal(isRecoverable('transport_failed'), true);
    for (const reason of ['kicked', 'demoted', 'client_request', 'room_closed', 'replaced', 'signaling_closed', 'token_expired', '', undefined]) {
      assert.equal(isRecoverable(reason), false, String(reason));
    }
  });

  it('the default backoff is bounded: five attempts within about 15 s', () => {
    assert.deepEqual(DEFAULT_RECONNECT_DELAYS_MS, [250, 1000, 2000, 4000, 8000]);
    assert.ok(DEFAULT_RECONNECT_DELAYS_MS.reduce((a, b) => a + b, 0) <= 15_250);
  });

  it('rejects unusable delay lists, naming the owner', () => {
    for (const bad of [[], [-1], [Number.NaN], [1, Infinity]]) {
      assert.throws(() => checkReconnectDelays(bad, 'Publisher'), /Publisher: reconnectDelaysMs/);
    }
    checkReconnectDelays([0], 'Publisher');
  });

  it('waits each delay before its attempt and stops at the first success', async () => {
    const calls: { n: number; at: number }[] = [];
    const started = performance.now();
    await retryWithBackoff(
      async (n) => {
        calls.push({ n, at: performance.now() - started });
        if (n < 3) throw new Error(`attempt ${n} failed`);
      },
      { delaysMs: [20, 40, 60, 80], signal: new AbortController().signal },
    );
    assert.deepEqual(calls.map((c) => c.n), [1, 2, 3]);
    // Cumulative waits: 20, 60, 120 ms (timers never fire early).
    for (const [i, min] of [20, 60, 120].entries()) assert.ok(calls[i]!.at >= min - 2, `attempt ${i + 1} at ${calls[i]!.at.toFixed(0)} ms`);
  });

  it('gives up after the last delay with the last error', async () => {
    const failures: number[] = [];
    const attempts: number[] = [];
    const err = await retryWithBackoff(
      async (n) => {
        throw new Error(`no ${n}`);
      },
      { delaysMs: [0, 1, 2], signal: new AbortController().signal, onAttempt: (n) => attempts.push(n), onFailure: (n) => failures.push(n) },
    ).catch((e: unknown) => e);
    assert.ok(err instanceof AttemptsExhaustedError);
    assert.equal(err.attempts, 3);
    assert.equal((err.cause as Error).message, 'no 3');
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.deepEqual(failures, [1, 2, 3]);
  });

  it('an abort during a wait or an attempt ends it with the abort reason, without further attempts', async () => {
    const waiting = new AbortController();
    let calls = 0;
    const during = retryWithBackoff(async () => void calls++, { delaysMs: [10_000], signal: waiting.signal });
    waiting.abort(new Error('stopped'));
    await assert.rejects(during, /stopped/);
    assert.equal(calls, 0);

    const attempting = new AbortController();
    const inAttempt = retryWithBackoff(
      async () => {
        calls++;
        attempting.abort(new Error('stopped mid-attempt'));
        throw new Error('failed because of the stop');
      },
      { delaysMs: [0, 0, 0], signal: attempting.signal },
    );
    await assert.rejects(inAttempt, /stopped mid-attempt/);
    assert.equal(calls, 1);
  });
});

describe('player: simulcast policy', () => {
  it('three encodings low → high: q, h, f at 1/4, 1/2 and full size, rising bitrates', () => {
    assert.deepEqual(SIMULCAST_ENCODINGS.map((e) => [e.rid, e.scaleResolutionDownBy, e.maxBitrate]), [
      ['q', 4, 150_000],
      ['h', 2, 500_000],
      ['f', 1, 1_500_000],
    ]);
    assert.ok(simulcastEncodings(true).every((e) => (e as { scalabilityMode?: string }).scalabilityMode === 'L1T3'));
    assert.ok(simulcastEncodings(false).every((e) => !('scalabilityMode' in e)));
  });

  it('a small tile asks for a low layer, a large one for the top layer', () => {
    assert.equal(spatialLayerForWidth(0), 0);
    assert.equal(spatialLayerForWidth(320), 0);
    assert.equal(spatialLayerForWidth(360), 0);
    assert.equal(spatialLayerForWidth(361), 1);
    assert.equal(spatialLayerForWidth(720), 1);
    assert.equal(spatialLayerForWidth(1280), 2);
    assert.equal(spatialLayerForWidth(500, [400]), 1);
  });
});
