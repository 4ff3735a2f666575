import type { Consumer } from 'mediasoup/types';

/**
 * RTP packets a room's consumers sent to subscribers: the last count read from each live
 * consumer, plus the last counts of consumers that closed since (so the total never goes back
 * when a subscriber leaves or a track ends).
 */
export class ForwardedPackets {
  /** Last packet count seen per live consumer. */
  private readonly counts = new Map<string, number>();
  /** Packets of closed consumers, as last seen. */
  private retired = 0;

  get total(): number {
    let total = this.retired;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  /** Reads `consumer`'s count from its worker (nothing if it is or gets closed meanwhile). */
  async sample(consumer: Consumer): Promise<void> {
    if (consumer.closed) return;
    try {
      const stats = await consumer.getStats();
      const out = stats.find((s) => s.type === 'outbound-rtp') as { packetCount?: number } | undefined;
      if (out?.packetCount !== undefined && !consumer.closed) this.counts.set(consumer.id, out.packetCount);
    } catch {
      // closed meanwhile
    }
  }

  /** The consumer is closing: its last count moves to the retired total. */
  retire(consumerId: string): void {
    this.retired += this.counts.get(consumerId) ?? 0;
    this.counts.delete(consumerId);
  }
}
