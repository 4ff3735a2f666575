/**
 * The few error classes the service uses. Each carries a stable `code` that the HTTP and
 * WebSocket edges put in `{ error: { code, message } }`. Messages are written for clients:
 * never a stack, a path or a secret.
 */
import type { Logger } from './logger.ts';

export type ErrorCode =
  | 'bad_request'
  | 'invalid_sdp'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'invalid_state'
  | 'unsupported'
  | 'payload_too_large'
  | 'rate_limited'
  | 'too_many_sessions'
  | 'chat_too_long'
  | 'chat_muted'
  | 'unknown_type'
  | 'invalid_message'
  | 'engine_error'
  | 'unavailable'
  | 'cluster_unauthorized'
  | 'internal';

export class ServiceError extends Error {
  readonly code: ErrorCode;
  /** HTTP status the edge maps this error to. */
  readonly status: number;

  constructor(code: ErrorCode, message: string, status = statusFor(code)) {
    super(message);
    this.name = 'ServiceError';
    this.code = code;
    this.status = status;
  }
}

export class InvalidStateError extends ServiceError {
  constructor(message: string) {
    super('invalid_state', message, 409);
    this.name = 'InvalidStateError';
  }
}

export class UnsupportedError extends ServiceError {
  constructor(message: string) {
    super('unsupported', message, 501);
    this.name = 'UnsupportedError';
  }
}

/** Longest `invalid_sdp` message; longer ones (an engine listing every section's reason) are cut. */
export const MAX_SDP_ERROR_MESSAGE = 300;

export class InvalidSdpError extends ServiceError {
  constructor(message: string) {
    // Messages may quote the client's SDP: never echo much of it back.
    super('invalid_sdp', message.length > MAX_SDP_ERROR_MESSAGE ? `${message.slice(0, MAX_SDP_ERROR_MESSAGE - 1)}…` : message, 400);
    this.name = 'InvalidSdpError';
  }
}

function statusFor(code: ErrorCode): number {
  switch (code) {
    case 'bad_request':
    case 'invalid_sdp':
    case 'invalid_message':
    case 'unknown_type':
    case 'chat_too_long':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
    case 'chat_muted':
    case 'cluster_unauthorized':
      return 403;
    case 'not_found':
      return 404;
    case 'conflict':
    case 'invalid_state':
      return 409;
    case 'payload_too_large':
      return 413;
    case 'rate_limited':
    case 'too_many_sessions':
      return 429;
    case 'unsupported':
      return 501;
    case 'engine_error':
      return 502;
    case 'unavailable':
      return 503;
    default:
      return 500;
  }
}

/** The client-safe shape of any thrown value. Unknown errors become `internal`. */
export function toErrorBody(err: unknown): { status: number; body: { error: { code: ErrorCode; message: string } } } {
  if (err instanceof ServiceError) {
    return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal error' } } };
}

/**
 * Logs a request that failed with a 5xx. A ServiceError is a known condition (a node or the
 * engine not answering, storage down): its code and message say it all, as a warning. Anything
 * else is a bug, logged as an error with its stack.
 */
export function logServerFailure(log: Pick<Logger, 'warn' | 'error'>, err: unknown, msg: string): void {
  if (err instanceof ServiceError) log.warn({ code: err.code, status: err.status, err: err.message }, msg);
  else log.error({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, msg);
}
