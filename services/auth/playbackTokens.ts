import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { ServiceError } from '../core/errors.ts';
import { baseClaimsSchema, describeJoseError } from './tokens.ts';

/**
 * Playback tokens: HS256 JWTs that let their bearer watch one room's HLS until they expire. The
 * origin asks for one on every playlist and media request of a private room (`?token=`). They
 * are a kind of their own (`use: "playback"`, no identity, no role): a room token is no playback
 * token, and a playback token is no room token (it has no role, which `TokenService.verify`
 * requires), so neither can stand in for the other.
 *
 * Verification is on the path of every request of a private room's audience, so a verified
 * token is remembered until it expires: a repeat costs a map lookup, not an HMAC.
 */
export interface PlaybackTokenOptions {
  /** HS256 signing secret (config JWT_SECRET; the same key as room tokens). */
  secret: string;
  /** Default lifetime, seconds (config PLAYBACK_TOKEN_TTL_SECONDS). */
  ttlSeconds: number;
  /** Verified tokens remembered at most. Default 10000. */
  cacheSize?: number;
}

export interface PlaybackClaims {
  room: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
  iat: number;
  jti: string;
}

export interface IssuedPlaybackToken {
  token: string;
  /** ISO-8601 time the token stops being accepted. */
  expiresAt: string;
  claims: PlaybackClaims;
}

/** The longest lifetime a caller may ask for: a day. */
export const MAX_PLAYBACK_TTL_SECONDS = 24 * 3600;

const ALG = 'HS256';
const USE = 'playback';

const claimsSchema = baseClaimsSchema.extend({ use: z.literal(USE) });

export class PlaybackTokenService {
  private readonly key: Uint8Array;
  private readonly ttlSeconds: number;
  private readonly cacheSize: number;
  /** token → claims of tokens that verified (signature and shape); expiry is checked on each use. */
  private readonly verified = new Map<string, PlaybackClaims>();

  constructor(opts: PlaybackTokenOptions) {
    this.key = new TextEncoder().encode(opts.secret);
    this.ttlSeconds = opts.ttlSeconds;
    this.cacheSize = opts.cacheSize ?? 10000;
  }

  get defaultTtlSeconds(): number {
    return this.ttlSeconds;
  }

  async issue(room: string, ttlSeconds = this.ttlSeconds, now = Date.now()): Promise<IssuedPlaybackToken> {
    if (!(Number.isInteger(ttlSeconds) && ttlSeconds > 0 && ttlSeconds <= MAX_PLAYBACK_TTL_SECONDS)) {
      throw new ServiceError('bad_request', `ttlSeconds must be an integer in 1..${MAX_PLAYBACK_TTL_SECONDS}`);
    }
    const iat = Math.floor(now / 1000);
    const exp = iat + ttlSeconds;
    const jti = randomUUID();
    const token = await new SignJWT({ use: USE, room })
      .setProtectedHeader({ alg: ALG, typ: 'JWT' })
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000).toISOString(), claims: { room, exp, iat, jti } };
  }

  /**
   * Signature, expiry, kind and room. Missing, forged, expired or not a playback token:
   * `unauthorized` (401); a genuine playback token for another room: `forbidden` (403).
   */
  async verify(token: string | undefined | null, room: string, now = Date.now()): Promise<PlaybackClaims> {
    if (!token) throw new ServiceError('unauthorized', 'playback token required');
    if (token.length > 4096) throw new ServiceError('unauthorized', 'token malformed');
    let claims = this.verified.get(token);
    if (!claims) {
      claims = await this.verifySignature(token, now);
      if (this.verified.size >= this.cacheSize) this.verified.clear();
      this.verified.set(token, claims);
    }
    if (claims.exp * 1000 <= now) {
      this.verified.delete(token);
      throw new ServiceError('unauthorized', 'token expired');
    }
    if (claims.room !== room) throw new ServiceError('forbidden', 'playback token is for another room');
    return claims;
  }

  private async verifySignature(token: string, now: number): Promise<PlaybackClaims> {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: [ALG], requiredClaims: ['exp', 'iat'], currentDate: new Date(now) }));
    } catch (err) {
      throw new ServiceError('unauthorized', describeJoseError(err));
    }
    const parsed = claimsSchema.safeParse(payload);
    if (!parsed.success) throw new ServiceError('unauthorized', 'not a playback token');
    const { use: _use, ...claims } = parsed.data;
    return claims;
  }
}
