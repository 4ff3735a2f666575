import type { ClientMessage, ServerMessage } from '../../../services/signaling/protocol.ts';
import type { PlayerError } from '../core/errors.ts';

// Types only: the protocol module's zod schemas must not end up in the browser bundle.
export type {
  BroadcastHealthInfo,
  ClientMessage,
  IceServerInfo,
  ParticipantInfo,
  Role,
  ServerMessage,
  TrackInfo,
} from '../../../services/signaling/protocol.ts';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A client message as the caller writes it: the client adds `v` and `id`. */
export type OutgoingMessage = DistributiveOmit<ClientMessage, 'v' | 'id'>;
export type ServerMessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/** What the server answers to each request type. `leave` gets `bye` and a closed socket. */
export interface ReplyTypes {
  join: 'joined';
  publish: 'published';
  unpublish: 'unpublished';
  subscribe: 'subscriberOffer';
  subscriberAnswer: 'ok';
  unsubscribe: 'ok';
  ping: 'pong';
  setLayers: 'ok';
  leaveStage: 'ok';
  broadcastHealth: 'broadcastHealth';
}
export type RequestType = keyof ReplyTypes;
export type RequestOf<T extends RequestType> = { type: T } & Omit<Extract<ClientMessage, { type: T }>, 'v' | 'id' | 'type'>;
export type ReplyOf<T extends RequestType> = ServerMessageOf<ReplyTypes[T]>;

export interface SignalingConfig {
  /**
   * WebSocket endpoint, without the token. Default: `/ws` on the page's own origin, `wss:`
   * on an https page and `ws:` otherwise.
   */
  url: string;
  /** Room token (JWT). Required. */
  token: string;
  /**
   * Room id, sent as `room` so that a token for another room is refused before the upgrade.
   * Default: none (the token names the room).
   */
  room: string | undefined;
  /** How long a request waits for its reply before it fails. Default 10000 ms. */
  requestTimeoutMs: number;
  /** How long opening the socket may take. Default 10000 ms. */
  connectTimeoutMs: number;
}

export const defaultSignalingConfig = (): Omit<SignalingConfig, 'token'> => ({
  url: defaultSignalingUrl(),
  room: undefined,
  requestTimeoutMs: 10000,
  connectTimeoutMs: 10000,
});

function defaultSignalingUrl(): string {
  if (typeof location === 'undefined') return 'ws://127.0.0.1/ws';
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

export interface SignalingCloseInfo {
  code: number;
  reason: string;
  /** The `bye` reason the server gave before closing, if it did. */
  bye?: string;
}

type ServerEventMap = {
  [K in Exclude<ServerMessage['type'], 'error'>]: [message: ServerMessageOf<K>];
};

/**
 * Events of a SignalingClient. Every server message is emitted under its `type` (also the
 * ones that answer a request, so that e.g. every `subscriberOffer` reaches one listener),
 * except `error` messages: those reject their request, or, when they answer none, are emitted
 * as a non-fatal PlayerError on `error`.
 */
export type SignalingEvents = ServerEventMap & {
  /** The socket closed; emitted once, not after `destroy()`. */
  close: [info: SignalingCloseInfo];
  error: [error: PlayerError];
};
