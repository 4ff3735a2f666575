import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RECONNECT_DELAYS_MS, checkReconnectDelays, isRecoverable } from '../../player/src/webrtc/reconnect-policy.ts';
import { AttemptsExhaustedError, Reconnector, retryWithBackoff } from '../../player/src/webrtc/reconnector.ts';
import { SIMULCAST_ENCODINGS, simulcastEncodings, spatialLayerForWidth } from '../../player/src/webrtc/simulcast.ts';

/** The player's reconnect and simulcast policies (plain functions, no browser). */
describe('player: reconnect policy', () => {
  it('only faults are recoverable; decisions are not', () => {
    assert.equal(isRecoverable('engine_died'), true);
    assert.equal(isRecoverable('transport_failed'), true);
    assert.equal(isRecoverable('ice_timeout'), true);
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

describe('player: Reconnector (the recovery loop of the publisher and the stage subscriber)', () => {
  /** Lets every promise chain run (attempts settle, the next delay is armed); setImmediate is not mocked. */
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  /** Real time, for the tests with real timers (a 0 ms delay may still come after setImmediate). */
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const pendingTimeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  /** An attempt that fails once its signal aborts, with the signal's reason. */
  const untilAborted = (signal: AbortSignal) => new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

  it('attempts after 250 ms, 1 s, 2 s, 4 s and 8 s, then gives up after the 5th failure', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const reconnector = new Reconnector(DEFAULT_RECONNECT_DELAYS_MS, 'Test');
    const attempts: number[] = [];
    const announced: number[] = [];
    let now = 0;
    const outcome = reconnector.retry(
      async () => {
        attempts.push(now);
        throw new Error('still down');
      },
      (n) => announced.push(n),
    );
    for (const [i, delay] of [250, 1000, 2000, 4000, 8000].entries()) {
      t.mock.timers.tick(delay - 1);
      now += delay - 1;
      await settle();
      assert.equal(attempts.length, i, `attempt ${i + 1} not before ${delay} ms`);
      t.mock.timers.tick(1);
      now += 1;
      await settle();
      assert.equal(attempts.length, i + 1, `attempt ${i + 1} after ${delay} ms`);
    }
    assert.equal(await outcome, 'exhausted');
    assert.deepEqual(attempts, [250, 1250, 3250, 7250, 15250]);
    assert.deepEqual(announced, [1, 2, 3, 4, 5]);
    t.mock.timers.tick(60_000);
    await settle();
    assert.equal(attempts.length, 5, 'no 6th attempt');
  });

  it('stops at the first attempt that succeeds', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const reconnector = new Reconnector(DEFAULT_RECONNECT_DELAYS_MS, 'Test');
    let calls = 0;
    const outcome = reconnector.retry(async () => {
      if (++calls < 3) throw new Error('still down');
    });
    for (const delay of [250, 1000, 2000]) {
      t.mock.timers.tick(delay);
      await settle();
    }
    assert.equal(await outcome, 'recovered');
    t.mock.timers.tick(60_000);
    await settle();
    assert.equal(calls, 3);
  });

  it('cancel during a delay clears its timer: no attempt, outcome cancelled', async () => {
    const reconnector = new Reconnector([10_000], 'Test');
    const before = pendingTimeouts();
    let calls = 0;
    const outcome = reconnector.retry(async () => void calls++);
    assert.equal(pendingTimeouts(), before + 1, 'the first delay is armed at once');
    reconnector.cancel();
    reconnector.cancel(); // idempotent
    assert.equal(pendingTimeouts(), before, 'the delay timer is cleared');
    assert.equal(await outcome, 'cancelled');
    assert.equal(calls, 0);
  });

  it('cancel during an attempt aborts it and its run; whatever it does then is not reported', async () => {
    const reconnector = new Reconnector([0, 0, 0], 'Test');
    const signals: { signal: AbortSignal; runSignal: AbortSignal }[] = [];
    const outcome = reconnector.retry(async (signal, runSignal) => {
      signals.push({ signal, runSignal });
      await untilAborted(signal).catch(() => {});
      // Finishing "successfully" after the cancel must not count as recovered.
    });
    await sleep(10);
    assert.equal(signals.length, 1);
    reconnector.cancel(new Error('stopped'));
    assert.equal(await outcome, 'cancelled');
    assert.equal(signals[0]!.signal.aborted, true);
    assert.equal(signals[0]!.runSignal.aborted, true);
    assert.equal((signals[0]!.runSignal.reason as Error).message, 'stopped');
    await sleep(10);
    assert.equal(signals.length, 1, 'no further attempt');
  });

  it('abortAttempt fails the running attempt only: the next one follows after its delay', async () => {
    const reconnector = new Reconnector([0, 30, 0], 'Test');
    const runs: { signal: AbortSignal; runSignal: AbortSignal }[] = [];
    const outcome = reconnector.retry(async (signal, runSignal) => {
      runs.push({ signal, runSignal });
      if (runs.length === 1) await untilAborted(signal);
    });
    await sleep(10);
    reconnector.abortAttempt(new Error('the server closed the new leg'));
    const abortedAt = performance.now();
    assert.equal(await outcome, 'recovered');
    assert.ok(performance.now() - abortedAt >= 28, 'the second attempt waited its delay');
    assert.equal(runs.length, 2);
    assert.equal(runs[0]!.signal.aborted, true);
    assert.equal(runs[0]!.runSignal.aborted, false);
    // Between or after attempts there is nothing to abort.
    reconnector.abortAttempt(new Error('late'));
    assert.equal(runs[1]!.signal.aborted, false);
  });

  it('once: runs at once; true on success, the error on failure, false once cancelled', async () => {
    const reconnector = new Reconnector([10_000], 'Test');
    assert.equal(await reconnector.once(async () => {}), true);
    await assert.rejects(
      reconnector.once(async () => {
        throw new Error('publish refused');
      }),
      /publish refused/,
    );
    const cancelled = reconnector.once((signal) => untilAborted(signal));
    reconnector.cancel();
    assert.equal(await cancelled, false);
  });

  it('a new run cancels the one before it', async () => {
    const reconnector = new Reconnector([0], 'Test');
    const first = reconnector.retry((signal) => untilAborted(signal));
    await sleep(10);
    const second = reconnector.retry(async () => {});
    assert.equal(await first, 'cancelled');
    assert.equal(await second, 'recovered');
  });

  it('rejects an unusable schedule, naming its owner', () => {
    assert.throws(() => new Reconnector([], 'StageSubscriber'), /StageSubscriber: reconnectDelaysMs/);
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
