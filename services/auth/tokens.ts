import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { ServiceError } from '../core/errors.ts';

/**
 * Room tokens: HS256 JWTs that admit one identity to one room with one role. The API mints
 * them (`POST /api/rooms/:id/tokens`); WHIP, WHEP and the WebSocket verify them. Every
 * verification failure is a ServiceError with a stable code and a client-safe message:
 * `unauthorized` for a token that cannot be trusted, `forbidden` for a good token used on
 * another room.
 */

export const ROLES = ['presenter', 'moderator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface TokenClaims {
  /** Who the token admits (the `sub` claim). */
  identity: string;
  room: string;
  role: Role;
  /** Expiry, seconds since the epoch. */
  exp: number;
  iat: number;
  jti: string;
}

export interface TokenIssuerOptions {
  /** HS256 signing secret (config JWT_SECRET). */
  secret: string;
  /** Lifetime of a token, seconds (config TOKEN_TTL_SECONDS). */
  ttlSeconds: number;
}

export interface IssuedToken {
  token: string;
  /** ISO-8601 time the token stops being accepted. */
  expiresAt: string;
  claims: TokenClaims;
}

const ALG = 'HS256';

/** Identities are shown to other participants; keep them printable and short. */
export const identitySchema = z.string().trim().min(1).max(128).regex(/^[^\p{Cc}]+$/u, 'must not contain control characters');

/** The claims every token of ours carries, whatever its kind: its room, its lifetime and its id. */
export const baseClaimsSchema = z.object({
  room: z.string().min(1).max(64),
  exp: z.number().int(),
  iat: z.number().int(),
  jti: z.string().min(1).max(128),
});

const claimsSchema = baseClaimsSchema.extend({ sub: identitySchema, role: z.enum(ROLES) });

export class TokenService {
  private readonly key: Uint8Array;
  private readonly ttlSeconds: number;

  constructor(opts: TokenIssuerOptions) {
    this.key = new TextEncoder().encode(opts.secret);
    this.ttlSeconds = opts.ttlSeconds;
  }

  async issue(room: string, identity: string, role: Role, now = Date.now()): Promise<IssuedToken> {
    const iat = Math.floor(now / 1000);
    const exp = iat + this.ttlSeconds;
    const jti = randomUUID();
    const token = await new SignJWT({ room, role })
      .setProtectedHeader({ alg: ALG, typ: 'JWT' })
      .setSubject(identity)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000).toISOString(), claims: { identity, room, role, exp, iat, jti } };
  }

  /**
   * Verifies signature, expiry and claim shape. With `room`, a token for another room is
   * `forbidden` (it is genuine, just not for here).
   */
  async verify(token: string | undefined | null, room?: string): Promise<TokenClaims> {
    if (!token) throw new ServiceError('unauthorized', 'missing token');
    if (token.length > 4096) throw new ServiceError('unauthorized', 'token malformed');
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: [ALG], requiredClaims: ['exp', 'iat', 'sub'] }));
    } catch (err) {
      throw new ServiceError('unauthorized', describeJoseError(err));
    }
    const parsed = claimsSchema.safeParse(payload);
    if (!parsed.success) throw new ServiceError('unauthorized', 'token claims invalid');
    const { sub, ...rest } = parsed.data;
    const claims: TokenClaims = { identity: sub, ...rest };
    if (room !== undefined && claims.room !== room) throw new ServiceError('forbidden', 'token is for another room');
    return claims;
  }
}

/** A short, stable, client-safe description: never jose's own message (it may echo input). */
export function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return 'token claims invalid';
  return 'token malformed';
}

/** The token in `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
