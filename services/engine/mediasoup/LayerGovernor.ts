import type { ConsumerLayers, ConsumerStat, ProducerStat, RtpParameters } from 'mediasoup/types';

/** What the governor needs of a mediasoup Consumer (a structural subset, so tests can drive it). */
export interface GovernedConsumer {
  readonly closed: boolean;
  readonly rtpParameters: RtpParameters;
  getStats(): Promise<(ConsumerStat | ProducerStat)[]>;
  setPreferredLayers(layers: ConsumerLayers): Promise<void>;
}

export interface LayerGovernorOptions {
  /** How often the receiver's reports are read, ms. Default 1000. */
  intervalMs?: number;
  /** Interval loss (as the receiver reports it, before repair) that counts as congestion. Default 0.1. */
  congestedLoss?: number;
  /** Round-trip time above the lowest seen that counts as congestion (a queue building up), ms. Default 250. */
  congestedQueueMs?: number;
  /** Interval loss below which the path counts as clear. Default 0.03 (random loss that NACK repairs stays under it). */
  clearLoss?: number;
  /** Round-trip time above the lowest seen below which the path counts as clear, ms. Default 60. */
  clearQueueMs?: number;
  /** Consecutive congested intervals before a step down. Default 2. */
  downAfter?: number;
  /** Clear time before the first step up, ms; doubles after a step up that congests, up to `maxUpHoldMs`. Default 8000. */
  upHoldMs?: number;
  /** Longest wait before a step up, ms. Default 64000. */
  maxUpHoldMs?: number;
  /** Reports that arrive on the old layers are ignored for this long after a change, ms. Default 2000. */
  settleMs?: number;
  /** Called after each change, for logs. */
  onChange?: (layers: ConsumerLayers, why: { loss: number; queueMs: number; direction: 'down' | 'up' }) => void;
}

/** Spatial and temporal layer counts of a consumer ("L3T3" → 3 and 3; no mode → 1 and 1). */
export function layerCounts(rtpParameters: RtpParameters): { spatial: number; temporal: number } {
  const mode = rtpParameters.encodings?.[0]?.scalabilityMode ?? '';
  const m = /^[LS](\d+)T(\d+)/.exec(mode);
  return m ? { spatial: Number(m[1]), temporal: Number(m[2]) } : { spatial: 1, temporal: 1 };
}

/**
 * Chooses the simulcast/temporal layers of one consumer whose receiver gives mediasoup no
 * bandwidth estimate (a WHEP receiver whose offer leaves mediasoup no transport-cc or
 * abs-send-time id it can name). Without it mediasoup sends the top layer whatever the path
 * holds: a slow receiver then loses most packets, NACKs make it worse, and the picture freezes.
 *
 * The receiver's RTCP reports still tell loss and round-trip time, so this is a loss- and
 * delay-based controller on layers: sustained heavy loss or a growing queue steps down one layer
 * (spatial first, then temporal), a clear path steps back up after a hold that doubles each time
 * a step up congests. Random loss that NACK repairs (a few per cent) keeps the layer.
 */
export class LayerGovernor {
  private readonly consumer: GovernedConsumer;
  private readonly opts: Required<Omit<LayerGovernorOptions, 'onChange'>> & Pick<LayerGovernorOptions, 'onChange'>;
  private readonly counts: { spatial: number; temporal: number };
  private readonly timer: NodeJS.Timeout;
  private spatial: number;
  private temporal: number;
  private last: { sent: number; lost: number } | undefined;
  private minRtt = Infinity;
  private congestedRun = 0;
  private clearSince: number | undefined;
  private upHold: number;
  private lastUpAt = -Infinity;
  private changedAt = 0;
  private busy = false;
  private closed = false;

  constructor(consumer: GovernedConsumer, options: LayerGovernorOptions = {}) {
    this.consumer = consumer;
    this.opts = {
      intervalMs: 1000,
      congestedLoss: 0.1,
      congestedQueueMs: 250,
      clearLoss: 0.03,
      clearQueueMs: 60,
      downAfter: 2,
      upHoldMs: 8000,
      maxUpHoldMs: 64000,
      settleMs: 2000,
      ...options,
    };
    this.counts = layerCounts(consumer.rtpParameters);
    this.spatial = this.counts.spatial - 1;
    this.temporal = this.counts.temporal - 1;
    this.upHold = this.opts.upHoldMs;
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** The layers it asks for now. */
  get layers(): ConsumerLayers {
    return { spatialLayer: this.spatial, temporalLayer: this.temporal };
  }

  /** Stops governing. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
  }

  /** One report interval; exposed for tests. */
  async tick(now = Date.now()): Promise<void> {
    if (this.closed || this.busy) return;
    if (this.consumer.closed) return this.close();
    this.busy = true;
    try {
      const stat = (await this.consumer.getStats()).find((s): s is ConsumerStat => s.type === 'outbound-rtp');
      if (!stat || this.closed) return;
      const sample = { sent: stat.packetCount, lost: stat.packetsLost };
      const previous = this.last;
      this.last = sample;
      const rtt = stat.roundTripTime;
      if (rtt !== undefined && rtt > 0) this.minRtt = Math.min(this.minRtt, rtt);
      if (!previous) return;
      const sent = sample.sent - previous.sent;
      // Paused, or too little traffic to judge.
      if (sent < 10) return;
      const loss = Math.max(0, sample.lost - previous.lost) / sent;
      const queueMs = rtt !== undefined && rtt > 0 && Number.isFinite(this.minRtt) ? rtt - this.minRtt : 0;
      if (now - this.changedAt < this.opts.settleMs) return;
      const congested = loss > this.opts.congestedLoss || queueMs > this.opts.congestedQueueMs;
      const clear = loss < this.opts.clearLoss && queueMs < this.opts.clearQueueMs;
      if (congested) {
        this.clearSince = undefined;
        if (++this.congestedRun < this.opts.downAfter) return;
        this.congestedRun = 0;
        // A step up that congests soon after: wait longer before the next one.
        if (now - this.lastUpAt < 4 * this.opts.upHoldMs) this.upHold = Math.min(this.upHold * 2, this.opts.maxUpHoldMs);
        if (this.stepDown()) await this.apply(now, { loss, queueMs, direction: 'down' });
        return;
      }
      this.congestedRun = 0;
      if (!clear) {
        this.clearSince = undefined;
        return;
      }
      this.clearSince ??= now;
      if (now - this.clearSince < this.upHold) return;
      if (this.stepUp()) {
        this.lastUpAt = now;
        this.clearSince = undefined;
        await this.apply(now, { loss, queueMs, direction: 'up' });
      } else if (now - this.lastUpAt > this.opts.maxUpHoldMs) {
        // Long clear at the top: the next congestion starts from a short hold again.
        this.upHold = this.opts.upHoldMs;
      }
    } catch {
      // The consumer closed meanwhile: the next tick sees it.
    } finally {
      this.busy = false;
    }
  }

  private stepDown(): boolean {
    if (this.spatial > 0) {
      this.spatial--;
      this.temporal = this.counts.temporal - 1;
      return true;
    }
    if (this.temporal > 0) {
      this.temporal--;
      return true;
    }
    return false;
  }

  private stepUp(): boolean {
    if (this.temporal < this.counts.temporal - 1) {
      this.temporal++;
      return true;
    }
    if (this.spatial < this.counts.spatial - 1) {
      this.spatial++;
      return true;
    }
    return false;
  }

  private async apply(now: number, why: { loss: number; queueMs: number; direction: 'down' | 'up' }): Promise<void> {
    this.changedAt = now;
    // The loss counters keep counting across the change; the next sample starts afresh.
    this.last = undefined;
    await this.consumer.setPreferredLayers(this.layers);
    this.opts.onChange?.(this.layers, why);
  }
}
