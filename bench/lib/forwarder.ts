/**
 * What the SFU capacity bench drives: the project's engine, or a bare baseline doing the same
 * forwarding. One publisher, N subscribers; SDP in, SDP out (the bots offer, the forwarder
 * answers, WHIP/WHEP style).
 */
import type { MediaEngine } from '../../services/engine/EngineTypes.ts';

export interface ForwarderCounters {
  /** CPU time of whatever does the forwarding (engine thread or worker process), µs since start. */
  cpuMicros: number;
  /** RTP packets handed to subscriber legs since start. */
  packetsForwarded: number;
}

export interface Forwarder {
  readonly name: string;
  /** Where `cpuMicros` comes from, printed with the figures. */
  readonly cpuSource: string;
  /**
   * True when `cpuMicros` is a thread of the bench's own process: V8's background threads (GC,
   * compiler), which no thread figure includes, then also work for it.
   */
  readonly jsThread: boolean;
  /** Answers the publisher's offer. */
  publish(offer: string): Promise<string>;
  /** Kinds of the publisher's tracks that are live (media arrived), which subscribers can then receive. */
  liveKinds(): Promise<string[]>;
  /** Answers a recvonly subscriber offer with the publisher's tracks. */
  subscribe(id: string, offer: string): Promise<string>;
  unsubscribe(id: string): Promise<void>;
  counters(): Promise<ForwarderCounters>;
  close(): Promise<void>;
}

/** The project's engine, through the MediaEngine interface only. */
export async function engineForwarder(engine: MediaEngine, cpuSource: string, jsThread: boolean): Promise<Forwarder> {
  const room = 'capacity';
  await engine.createRoom(room);
  return {
    name: `ours (${engine.kind})`,
    cpuSource,
    jsThread,
    publish: async (offer) => (await engine.publish(room, 'publisher', offer)).answer,
    liveKinds: async () => (await engine.listTracks(room)).map((t) => t.kind),
    subscribe: async (id, offer) => (await engine.subscribeWithOffer(room, id, offer)).answer,
    unsubscribe: (id) => engine.closeSubscriber(room, id, 'client_request'),
    counters: async () => {
      const s = await engine.stats();
      return { cpuMicros: s.cpuMicros, packetsForwarded: s.packetsForwarded };
    },
    close: () => engine.close(),
  };
}
