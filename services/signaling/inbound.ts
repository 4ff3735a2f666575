import { ServiceError } from '../core/errors.ts';
import { clientMessageSchemas, envelopeSchema, PROTOCOL_VERSION, type ClientMessage, type ClientMessageType } from './protocol.ts';
import { TokenBucket } from '../core/TokenBucket.ts';

/** Window over which dropped (rate-limited) messages are counted before the socket is closed. */
const RATE_STRIKE_WINDOW_MS = 5000;

/** What became of one inbound frame. */
export type Inbound =
  | { kind: 'message'; message: ClientMessage }
  /** Answered with an error; the session carries on. `re` is the request id, when it could be read. */
  | { kind: 'rejected'; error: ServiceError; re?: string }
  /** Answered with an error, then the socket is closed with `closeCode`. */
  | { kind: 'fatal'; error: ServiceError; closeCode: 'messageTooBig' | 'rateLimited' };

/**
 * The limits and checks every inbound frame passes before a session acts on it: size, rate
 * (a token bucket; a client that keeps exceeding it is cut off), text, JSON, the envelope,
 * the protocol version, a known type, and that type's schema.
 */
export class InboundGate {
  private readonly maxMessageBytes: number;
  private readonly ratePerSecond: number;
  private readonly bucket: TokenBucket;
  private strikes = 0;
  private strikeWindowStart = 0;

  constructor(limits: { maxMessageBytes: number; ratePerSecond: number }) {
    this.maxMessageBytes = limits.maxMessageBytes;
    this.ratePerSecond = limits.ratePerSecond;
    this.bucket = new TokenBucket(limits.ratePerSecond);
  }

  read(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean, now: number): Inbound {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (buf.length > this.maxMessageBytes) {
      return { kind: 'fatal', error: new ServiceError('payload_too_large', `message exceeds ${this.maxMessageBytes} bytes`), closeCode: 'messageTooBig' };
    }
    if (!this.bucket.take(now)) return this.rateLimited(now);
    if (isBinary) return rejected('invalid_message', 'binary frames are not accepted');
    let json: unknown;
    try {
      json = JSON.parse(buf.toString('utf8'));
    } catch {
      return rejected('invalid_message', 'message is not valid JSON');
    }
    const envelope = envelopeSchema.safeParse(json);
    if (!envelope.success) return rejected('invalid_message', 'message must be an object with v and type');
    const rawId = envelope.data.id;
    const re = typeof rawId === 'string' && rawId.length > 0 && rawId.length <= 64 ? rawId : undefined;
    if (envelope.data.v !== PROTOCOL_VERSION) return rejected('invalid_message', `unsupported protocol version (expected v: ${PROTOCOL_VERSION})`, re);
    const type = envelope.data.type;
    if (!Object.hasOwn(clientMessageSchemas, type)) return rejected('unknown_type', `unknown message type ${JSON.stringify(type.slice(0, 64))}`, re);
    const parsed = clientMessageSchemas[type as ClientMessageType].safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length ? issue.path.join('.') : 'message';
      return rejected('invalid_message', `invalid ${field} in ${type}: ${issue.message}`, re);
    }
    return { kind: 'message', message: parsed.data as ClientMessage };
  }

  private rateLimited(now: number): Inbound {
    if (now - this.strikeWindowStart > RATE_STRIKE_WINDOW_MS) {
      this.strikeWindowStart = now;
      this.strikes = 0;
    }
    this.strikes++;
    const error = new ServiceError('rate_limited', `more than ${this.ratePerSecond} messages per second; message dropped`);
    return this.strikes > this.ratePerSecond ? { kind: 'fatal', error, closeCode: 'rateLimited' } : { kind: 'rejected', error };
  }
}

function rejected(code: 'invalid_message' | 'unknown_type', message: string, re?: string): Inbound {
  return { kind: 'rejected', error: new ServiceError(code, message), ...(re ? { re } : {}) };
}
