/**
 * When and how often a publisher or stage subscriber makes its connection again after the
 * server (or the browser) lost it. One policy for both, so the studio and the stage view
 * behave alike after a media engine restart; reconnector.ts runs it.
 */

/**
 * Close reasons (`unpublished.reason`, `subscriberClosed.reason`) that are a fault worth a new
 * connection: ICE/DTLS failed or did not connect in time, or the media engine's worker died and
 * was replaced. Every other reason (`demoted`, `kicked`, `client_request`, `room_closed`, …) is a
 * decision to respect.
 */
export const RECOVERABLE_REASONS: readonly string[] = ['engine_died', 'transport_failed', 'ice_timeout'];

/** Wait before each attempt, ms; the list's length is the number of attempts. */
export const DEFAULT_RECONNECT_DELAYS_MS: readonly number[] = [250, 1000, 2000, 4000, 8000];

export function isRecoverable(reason: string | undefined): boolean {
  return reason !== undefined && RECOVERABLE_REASONS.includes(reason);
}

/** Throws a TypeError naming `owner` unless `delays` is a non-empty list of finite delays ≥ 0. */
export function checkReconnectDelays(delays: readonly number[], owner: string): void {
  if (!Array.isArray(delays) || delays.length === 0 || !delays.every((d) => Number.isFinite(d) && d >= 0)) {
    throw new TypeError(`${owner}: reconnectDelaysMs must be a non-empty list of delays ≥ 0`);
  }
}

/**
 * A signaling socket that closed this way lost its node, not its welcome: the process died or
 * the connection broke (1006, no close frame), or the node is shutting down (1001) or failed
 * (1011). Joining again through the entry URL finds the room where it lives now. Anything else
 * (kicked, blocked, replaced, room closed, token expired) is a decision to respect.
 */
export function isNodeLoss(info: { code: number }): boolean {
  return info.code === 1006 || info.code === 1001 || info.code === 1011;
}
