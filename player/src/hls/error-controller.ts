import { ErrorDetails, ErrorTypes, type ErrorData } from 'hls.js';

/**
 * What to do about a fatal hls.js error, in the order hls.js itself recommends:
 *   - the multivariant playlist cannot be loaded: the broadcast is gone or not there yet, so
 *     tear down and wait for it again (`rewait`);
 *   - any other network error: `startLoad` (hls.js stopped loading; its own retries ran out);
 *   - a media error: `recoverMedia` (recreates the MediaSource); a second one soon after also
 *     swaps the audio codec, the known cure for AAC HE/LC mislabelling;
 *   - anything else (mux, key system, internal): `fail`.
 * Too many recoveries in the window also `fail`: a loop of recoveries is an outage.
 */
export type RecoveryAction = 'rewait' | 'startLoad' | 'recoverMedia' | 'swapAudioCodecAndRecover' | 'fail';

const MANIFEST_ERRORS: readonly string[] = [
  ErrorDetails.MANIFEST_LOAD_ERROR,
  ErrorDetails.MANIFEST_LOAD_TIMEOUT,
  ErrorDetails.MANIFEST_PARSING_ERROR,
];
const SECOND_MEDIA_ERROR_WITHIN_MS = 3000;

export class ErrorController {
  private readonly maxRecoveries: number;
  private readonly windowMs: number;
  private recoveries: number[] = [];
  private lastMediaRecoveryAt = -Infinity;

  constructor(options: { maxRecoveries: number; windowMs: number }) {
    this.maxRecoveries = options.maxRecoveries;
    this.windowMs = options.windowMs;
  }

  decide(data: Pick<ErrorData, 'type' | 'details' | 'fatal'>, now = performance.now()): RecoveryAction {
    if (!data.fatal) throw new TypeError('ErrorController.decide: only fatal errors need a decision');
    this.recoveries = this.recoveries.filter((t) => now - t < this.windowMs);
    if (this.recoveries.length >= this.maxRecoveries) return 'fail';
    let action: RecoveryAction;
    if (data.type === ErrorTypes.NETWORK_ERROR) {
      action = MANIFEST_ERRORS.includes(data.details) ? 'rewait' : 'startLoad';
    } else if (data.type === ErrorTypes.MEDIA_ERROR) {
      action = now - this.lastMediaRecoveryAt < SECOND_MEDIA_ERROR_WITHIN_MS ? 'swapAudioCodecAndRecover' : 'recoverMedia';
      this.lastMediaRecoveryAt = now;
    } else {
      return 'fail';
    }
    this.recoveries.push(now);
    return action;
  }

  /** Recoveries counted in the current window. */
  get recent(): number {
    return this.recoveries.length;
  }
}
