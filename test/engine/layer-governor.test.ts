/**
 * LayerGovernor's policy, driven interval by interval with receiver reports as mediasoup gives
 * them (cumulative sent and lost counts, round-trip time). The real thing, with a real worker,
 * Chromium and a slow link, is in test/engine/mediasoup-whep.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConsumerLayers, ConsumerStat, RtpParameters } from 'mediasoup/types';
import { LayerGovernor, layerCounts, type GovernedConsumer } from '../../services/engine/mediasoup/LayerGovernor.ts';

/** A consumer whose receiver reports the script says; counts what the governor asks for. */
class ReportingConsumer implements GovernedConsumer {
  closed = false;
  readonly rtpParameters: RtpParameters = { codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }], encodings: [{ ssrc: 1, scalabilityMode: 'L3T3' }] };
  readonly asked: ConsumerLayers[] = [];
  private sent = 0;
  private lost = 0;
  private rtt = 20;

  /** One interval: `packets` sent, `loss` of them reported lost, round-trip time `rtt` ms. */
  report(packets: number, loss: number, rtt = 20): void {
    this.sent += packets;
    this.lost += Math.round(packets * loss);
    this.rtt = rtt;
  }

  async getStats(): Promise<ConsumerStat[]> {
    return [{ type: 'outbound-rtp', packetCount: this.sent, packetsLost: this.lost, roundTripTime: this.rtt } as ConsumerStat];
  }

  async setPreferredLayers(layers: ConsumerLayers): Promise<void> {
    this.asked.push({ ...layers });
  }
}

/** Runs `n` one-second intervals from `t`, each reported by `each`; returns the time after. */
async function run(governor: LayerGovernor, consumer: ReportingConsumer, t: number, n: number, each: (c: ReportingConsumer) => void): Promise<number> {
  for (let i = 0; i < n; i++) {
    each(consumer);
    t += 1000;
    await governor.tick(t);
  }
  return t;
}

const clear = (c: ReportingConsumer) => c.report(100, 0);
const heavyLoss = (c: ReportingConsumer) => c.report(100, 0.4);

describe('LayerGovernor', () => {
  it('reads layer counts from the scalability mode', () => {
    assert.deepEqual(layerCounts({ codecs: [], encodings: [{ scalabilityMode: 'L3T3' }] }), { spatial: 3, temporal: 3 });
    assert.deepEqual(layerCounts({ codecs: [], encodings: [{ scalabilityMode: 'L1T2' }] }), { spatial: 1, temporal: 2 });
    assert.deepEqual(layerCounts({ codecs: [], encodings: [{}] }), { spatial: 1, temporal: 1 });
  });

  it('steps down one spatial layer after two congested intervals, and to the lowest as congestion goes on', async () => {
    const c = new ReportingConsumer();
    const g = new LayerGovernor(c, { intervalMs: 3_600_000 });
    let t = await run(g, c, 0, 2, clear);
    assert.deepEqual(c.asked, [], 'a clear path at the top: nothing to change');
    t = await run(g, c, t, 1, heavyLoss);
    assert.deepEqual(c.asked, [], 'one bad interval is not enough');
    t = await run(g, c, t, 1, heavyLoss);
    assert.deepEqual(c.asked, [{ spatialLayer: 1, temporalLayer: 2 }]);
    // Reports on the old layer are not judged while it settles (2 s); then it goes on down.
    t = await run(g, c, t, 2, heavyLoss);
    assert.equal(c.asked.length, 1, 'nothing while the change settles');
    await run(g, c, t, 1, heavyLoss);
    assert.deepEqual(c.asked, [
      { spatialLayer: 1, temporalLayer: 2 },
      { spatialLayer: 0, temporalLayer: 2 },
    ]);
    g.close();
  });

  it('keeps its layer under random loss that NACK repairs (2%)', async () => {
    const c = new ReportingConsumer();
    const g = new LayerGovernor(c, { intervalMs: 3_600_000 });
    await run(g, c, 0, 30, (x) => x.report(100, 0.02));
    assert.deepEqual(c.asked, []);
    g.close();
  });

  it('a queue building up (round-trip time well above the lowest seen) counts as congestion', async () => {
    const c = new ReportingConsumer();
    const g = new LayerGovernor(c, { intervalMs: 3_600_000 });
    const t = await run(g, c, 0, 3, (x) => x.report(100, 0, 20));
    await run(g, c, t, 2, (x) => x.report(100, 0, 400));
    assert.deepEqual(c.asked, [{ spatialLayer: 1, temporalLayer: 2 }]);
    g.close();
  });

  it('at the lowest spatial layer, further congestion lowers the temporal layer', async () => {
    const c = new ReportingConsumer();
    const g = new LayerGovernor(c, { intervalMs: 3_600_000 });
    await run(g, c, 0, 20, heavyLoss);
    assert.deepEqual(c.asked.slice(0, 4), [
      { spatialLayer: 1, temporalLayer: 2 },
      { spatialLayer: 0, temporalLayer: 2 },
      { spatialLayer: 0, temporalLayer: 1 },
      { spatialLayer: 0, temporalLayer: 0 },
    ]);
    assert.deepEqual(g.layers, { spatialLayer: 0, temporalLayer: 0 });
    g.close();
  });

  it('steps back up after a clear hold, and waits twice as long after a step up that congests', async () => {
    const c = new ReportingConsumer();
    const g = new LayerGovernor(c, { intervalMs: 3_600_000, upHoldMs: 8000 });
    let t = await run(g, c, 0, 6, heavyLoss);
    assert.deepEqual(g.layers, { spatialLayer: 0, temporalLayer: 2 });
    const before = c.asked.length;
    t = await run(g, c, t, 9, clear);
    assert.equal(c.asked.length, before, 'not within the 8 s hold (reports settle for 2 s first)');
    t = await run(g, c, t, 3, clear);
    assert.deepEqual(c.asked.at(-1), { spatialLayer: 1, temporalLayer: 2 }, 'up after the hold');
    const upAt = c.asked.length;
    // The step up congests: back down, and the next attempt waits 16 s.
    t = await run(g, c, t, 4, heavyLoss);
    assert.deepEqual(c.asked.at(-1), { spatialLayer: 0, temporalLayer: 2 });
    assert.equal(c.asked.length, upAt + 1);
    t = await run(g, c, t, 12, clear);
    assert.deepEqual(c.asked.at(-1), { spatialLayer: 0, temporalLayer: 2 }, 'no step up within 16 s');
    await run(g, c, t, 8, clear);
    assert.deepEqual(c.asked.at(-1), { spatialLayer: 1, temporalLayer: 2 }, 'up again after the longer hold');
    g.close();
  });

  it('stops on its own once the consumer is closed, and close() is idempotent', async () => {
    const c = new ReportingConsumer();
    const g = new LayerGovernor(c, { intervalMs: 3_600_000 });
    c.closed = true;
    await run(g, c, 0, 5, heavyLoss);
    assert.deepEqual(c.asked, []);
    g.close();
    g.close();
  });
});
