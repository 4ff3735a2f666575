/**
 * What the SFU capacity bench drives: the project's engine, or a bare baseline doing the same
 * forwarding. One publisher, N subscribers. The publisher offers and the forwarder answers
 * (WHIP style); for each subscriber the forwarder offers and the bot answers, as the stage view
 * subscribes (the engine-offer path every stage member and moderator uses).
 *
 * (Not WHEP: mediasoup writes each RTP header extension under one fixed id, and a receiver that
 * reads extensions with its own offer's ids, as the bots' libwebrtc does, takes mediasoup's
 * abs-send-time at id 4 for its MID and drops every video packet. Offering puts the ids on the
 * forwarder's side. See the README's WHEP notes.)
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
  /** An offer that sends the publisher's live tracks to a new subscriber `id`. */
  subscribe(id: string): Promise<string>;
  /** The subscriber's answer to that offer. */
  answer(id: string, sdp: string): Promise<void>;
  unsubscribe(id: string): Promise<void>;
  counters(): Promise<ForwarderCounters>;
  close(): Promise<void>;
}

/** The project's engine, through the MediaEngine interface only. */
export async function engineForwarder(engine: MediaEngine, cpuSource: string, jsThread: boolean): Promise<Forwarder> {
  const room = 'capacity';
  await engine.createRoom(room);
  const versions = new Map<string, number>();
  // Subscribers join once the publisher's tracks are live, so the first offer carries both and
  // no renegotiation follows; one would leave a bot waiting, and the flow check would say so.
  engine.on('subscriberoffer', (r, peer) => r === room && console.warn(`bench: unexpected renegotiation offer to ${peer}`));
  return {
    name: `ours (${engine.kind})`,
    cpuSource,
    jsThread,
    publish: async (offer) => (await engine.publish(room, 'publisher', offer)).answer,
    liveKinds: async () => (await engine.listTracks(room)).map((t) => t.kind),
    subscribe: async (id) => {
      const offer = await engine.subscribe(room, id);
      versions.set(id, offer.version);
      return offer.offer;
    },
    answer: (id, sdp) => engine.answerSubscriber(room, id, versions.get(id)!, sdp),
    unsubscribe: (id) => engine.closeSubscriber(room, id, 'client_request'),
    counters: async () => {
      const s = await engine.stats();
      return { cpuMicros: s.cpuMicros, packetsForwarded: s.packetsForwarded };
    },
    close: () => engine.close(),
  };
}
