/**
 * The media engine boundary. It is SDP-level because browsers and WHIP/WHEP clients all speak
 * SDP, and flat and id-based so that it crosses a worker-thread or process boundary unchanged
 * (every argument and result is plain data). Two implementations: `embedded` (werift, pure
 * TypeScript) and `mediasoup` (native worker, production).
 *
 * Roles of the three leg kinds:
 * - publisher: the client offers, the engine answers (browser studio, WHIP).
 * - subscriber: the engine offers and follows the stage, renegotiating whenever stage tracks
 *   come or go; the client answers (browser stage view).
 * - offer-subscriber: the client offers recvonly (WHEP); the engine answers with the stage's
 *   current audio and video, filling each offered m-line with one stage track of its kind.
 */

export type MediaKind = 'audio' | 'video';

export type EngineKind = 'embedded' | 'mediasoup';

/**
 * What a published track shows: `camera` (a camera or microphone, and any track a client did
 * not label, e.g. WHIP) or `screen` (a shared screen, window or tab).
 */
export type TrackSource = 'camera' | 'screen';

/** Why a leg or room closed. One enum, shown in logs, events, webhooks and metrics. */
export type CloseReason =
  | 'client_request'
  | 'room_closed'
  | 'transport_failed'
  /** The leg's ICE did not connect within EngineOptions.iceConnectTimeoutMs of its creation. */
  | 'ice_timeout'
  | 'engine_closed'
  | 'engine_died'
  | 'replaced'
  | 'kicked'
  | 'token_expired'
  | 'signaling_closed';

/** A track published on the stage. `trackId` is unique within the room. */
export interface StageTrack {
  trackId: string;
  kind: MediaKind;
  /** Participant (peer) that publishes it. */
  peerId: string;
  /** Media stream id the publisher used; tracks of one publisher share it so receivers lip-sync. */
  streamId: string;
  codec: string;
  /**
   * What it shows. Absent means `camera`. A `screen` track has a stream id of its own
   * (`<peerId>:screen`), so receivers show it apart from the camera and do not lip-sync it.
   */
  source?: TrackSource;
}

/** How a publisher labels its tracks. */
export interface PublishOptions {
  /** mid of an offered m-section → its source; m-sections not named are `camera`. */
  sources?: Record<string, TrackSource>;
}

/** The stream id of a publisher's track of `source`. */
export function streamIdFor(peerId: string, source: TrackSource | undefined, ownStreamId?: string): string {
  return source === 'screen' ? `${peerId}:screen` : (ownStreamId ?? peerId);
}

export interface PublishResult {
  answer: string;
  tracks: StageTrack[];
}

export interface SubscriberOffer {
  offer: string;
  /** Increments with each offer; an answer names the version it answers. */
  version: number;
  /** mid → track carried on it, so the client can label tiles. */
  mids: Record<string, StageTrack>;
}

/** Where the engine sends a mirrored track: plain RTP, and RTCP on its own port. */
export interface MirrorTarget {
  ip: string;
  rtpPort: number;
  rtcpPort: number;
}

export interface MirrorInfo {
  /** SDP describing the stream at the target, for a receiver such as ffmpeg (`-f sdp`). */
  sdp: string;
  track: StageTrack;
}

export interface EngineStats {
  kind: EngineKind;
  rooms: number;
  publishers: number;
  subscribers: number;
  /** RTP packets sent to subscribers since start. */
  packetsForwarded: number;
  /** Process or thread CPU time the engine used since start, microseconds. */
  cpuMicros: number;
}

/** What an engine can do beyond the common interface. */
export interface EngineCapabilities {
  /** Publishers may send simulcast (several encodings of one video track), and each subscriber's layer can be chosen. */
  simulcast: boolean;
  /** The engine emits `activespeaker`. */
  activeSpeaker: boolean;
}

/** A subscriber's preferred simulcast layer of one track; 0 is the lowest. */
export interface PreferredLayers {
  spatialLayer: number;
  temporalLayer?: number;
}

export interface EngineOptions {
  /** Address ICE binds to and advertises. */
  listenIp: string;
  /** Address put in candidates instead of listenIp (NAT). Default: listenIp. */
  announcedIp?: string;
  /** UDP port range. */
  portRange: [number, number];
  /** ICE servers used by the engine's own agents; defaults to none (never a public STUN). */
  iceServers?: { urls: string | string[]; username?: string; credential?: string }[];
  /**
   * A publisher or subscriber leg whose ICE has not connected this long after the leg was
   * created closes with reason `ice_timeout` (a `legclosed` event), ms. Default
   * CONFIG_DEFAULTS.ICE_CONNECT_TIMEOUT_MS (15000; config ICE_CONNECT_TIMEOUT_MS).
   */
  iceConnectTimeoutMs?: number;
}

export type EngineEvents = {
  /** A subscriber needs to renegotiate; deliver the offer to its client. */
  subscriberoffer: [roomId: string, peerId: string, offer: SubscriberOffer];
  /** A publisher's tracks became live on the stage (after media arrived). */
  trackpublished: [roomId: string, track: StageTrack];
  /**
   * A track left the stage because its publisher leg closed; `reason` is that leg's close
   * reason: a fault (`transport_failed`, `ice_timeout`, `engine_died`: the publisher is likely
   * to publish again) or a decision (`client_request`, `replaced`, `room_closed`, …).
   */
  trackunpublished: [roomId: string, track: StageTrack, reason: CloseReason];
  /** A leg closed on the engine's side (ICE/DTLS failure, engine death). */
  legclosed: [roomId: string, peerId: string, leg: 'publisher' | 'subscriber', reason: CloseReason];
  /** The room's dominant speaker changed (engines with `capabilities.activeSpeaker`). */
  activespeaker: [roomId: string, peerId: string];
  /** The engine cannot go on (worker crashed). Every room is gone. */
  died: [error: string];
};

/**
 * The engine. Methods reject with ServiceError subclasses: InvalidSdpError for unusable SDP,
 * InvalidStateError for a leg that does not exist or already exists.
 */
export interface MediaEngine {
  readonly kind: EngineKind;
  readonly capabilities: EngineCapabilities;
  on<K extends keyof EngineEvents>(event: K, listener: (...args: EngineEvents[K]) => void): unknown;
  off<K extends keyof EngineEvents>(event: K, listener: (...args: EngineEvents[K]) => void): unknown;

  createRoom(roomId: string): Promise<void>;
  /** Closes the room and every leg in it. Idempotent. */
  closeRoom(roomId: string, reason: CloseReason): Promise<void>;

  /**
   * Client-offer publish. One publisher leg per peer; publishing again replaces it (a screen
   * share starting or ending is published this way, with `options.sources` naming it).
   */
  publish(roomId: string, peerId: string, offer: string, options?: PublishOptions): Promise<PublishResult>;
  closePublisher(roomId: string, peerId: string, reason: CloseReason): Promise<void>;
  /** Pauses or resumes forwarding a stage track (moderator mute). */
  setTrackPaused(roomId: string, trackId: string, paused: boolean): Promise<void>;

  /** Engine-offer subscribe that follows the stage. Tracks published by `peerId` itself are left out. */
  subscribe(roomId: string, peerId: string): Promise<SubscriberOffer>;
  /** Applies the client's answer to offer `version`. */
  answerSubscriber(roomId: string, peerId: string, version: number, answer: string): Promise<void>;
  /** Client-offer (WHEP) subscribe. */
  subscribeWithOffer(roomId: string, peerId: string, offer: string): Promise<{ answer: string; tracks: StageTrack[] }>;
  closeSubscriber(roomId: string, peerId: string, reason: CloseReason): Promise<void>;
  /**
   * Chooses which simulcast layer of `trackId` the subscriber `peerId` receives (the engine may
   * still go lower when the subscriber's bandwidth estimate is short). Rejects with
   * UnsupportedError on an engine without simulcast.
   */
  setSubscriberLayers(roomId: string, peerId: string, trackId: string, layers: PreferredLayers): Promise<void>;

  /**
   * Mirror: sends a stage track as plain RTP (header extensions stripped) plus the
   * publisher's RTCP sender reports to `target`, and asks the publisher for a keyframe. The
   * mirror ends when the track does, or with `stopMirror`. Mirroring a track again retargets it.
   * A receiver never sees a mirror's numbering go backwards: mirroring again to the same target
   * keeps the stream's sequence numbers and timestamps continuous (and asks for a keyframe); a
   * new target is a new stream to a new socket.
   */
  mirrorTrack(roomId: string, trackId: string, target: MirrorTarget): Promise<MirrorInfo>;
  stopMirror(roomId: string, trackId: string): Promise<void>;
  /** Asks the track's publisher for a keyframe (a new mirror reader, a restarted ffmpeg). */
  requestKeyFrame(roomId: string, trackId: string): Promise<void>;

  /** Stage tracks currently live in the room. */
  listTracks(roomId: string): Promise<StageTrack[]>;
  stats(): Promise<EngineStats>;
  /** Closes everything. Idempotent. */
  close(): Promise<void>;
}
