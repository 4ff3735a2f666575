/**
 * Player errors, shaped like hls.js errors: `{ type, details, fatal }`. `type` is the pipeline
 * stage that failed, `details` a stable code within it, `fatal` says whether the object that
 * reported it has given up (a fatal error is always followed by the object closing).
 */
export const ErrorTypes = {
  /** The WebSocket signaling connection or protocol. */
  SIGNALING: 'signalingError',
  /** Camera, microphone or device selection. */
  MEDIA: 'mediaError',
  /** RTCPeerConnection: SDP, ICE, DTLS. */
  WEBRTC: 'webrtcError',
} as const;
export type ErrorType = (typeof ErrorTypes)[keyof typeof ErrorTypes];

export const ErrorDetails = {
  /** The socket could not be opened or closed unexpectedly. */
  SOCKET_CLOSED: 'socketClosed',
  /** The server did not answer a request in time. */
  REQUEST_TIMEOUT: 'requestTimeout',
  /** The server answered a request with an `error` message. */
  REQUEST_FAILED: 'requestFailed',
  /** The server sent an `error` message that answers no request. */
  SERVER_ERROR: 'serverError',
  /** No `pong` arrived for two heartbeat intervals. */
  HEARTBEAT_TIMEOUT: 'heartbeatTimeout',
  /** getUserMedia was refused or found no device. */
  GET_USER_MEDIA_FAILED: 'getUserMediaFailed',
  /** Switching to another device failed; the previous one is kept. */
  DEVICE_SWITCH_FAILED: 'deviceSwitchFailed',
  /** Creating or applying an offer or answer failed. */
  NEGOTIATION_FAILED: 'negotiationFailed',
  /** ICE or DTLS failed, or the connection did not come up in time. */
  CONNECTION_FAILED: 'connectionFailed',
} as const;
export type ErrorDetail = (typeof ErrorDetails)[keyof typeof ErrorDetails];

export interface PlayerError {
  type: ErrorType;
  details: ErrorDetail;
  fatal: boolean;
  /** Human-readable explanation, safe to show. */
  message: string;
  /** Server error code, when the server sent one. */
  code?: string;
  /** The underlying exception, if any. */
  error?: unknown;
}

/** An Error that carries a PlayerError, for promise rejections. */
export class PlayerErrorException extends Error {
  readonly data: PlayerError;
  constructor(data: PlayerError) {
    super(data.message);
    this.name = 'PlayerError';
    this.data = data;
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
