import { createHmac } from 'node:crypto';
import type { IceServer, TurnCredential, TurnOptions } from './TurnTypes.ts';
import { CONFIG_DEFAULTS } from '../core/config.ts';

/**
 * A time-limited TURN credential in the TURN REST shared-secret scheme that coturn checks with
 * `use-auth-secret` + `static-auth-secret`: username `${expiry}:${identity}`, password
 * base64(HMAC-SHA1(secret, username)). Nothing is stored: coturn recomputes the HMAC and
 * refuses the username once its expiry has passed.
 */
export function turnCredential(secret: string, identity: string, ttlSeconds: number, nowSeconds = Math.floor(Date.now() / 1000)): TurnCredential {
  if (!secret) throw new TypeError('TURN secret is empty');
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new TypeError('ttlSeconds must be a positive integer');
  // ':' separates expiry from identity in coturn's parser; keep the identity readable and safe.
  const safeIdentity = identity.replace(/[^A-Za-z0-9._@-]/g, '_').slice(0, 64) || 'anonymous';
  const expiresAt = nowSeconds + ttlSeconds;
  const username = `${expiresAt}:${safeIdentity}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64'), expiresAt };
}

/**
 * Issues ICE servers for clients and the engine. With no TURN URLs configured it returns an
 * empty list (loopback and LAN setups need none; never a public STUN server).
 */
export class TurnService {
  readonly enabled: boolean;
  private readonly turnUrls: string[];
  private readonly stunUrls: string[];
  private readonly secret: string;
  readonly ttlSeconds: number;

  constructor(opts: TurnOptions) {
    for (const url of opts.urls) {
      if (!/^(turns?|stun):[^\s]+$/.test(url)) throw new TypeError(`invalid ICE server URL ${url} (expected turn:, turns: or stun:)`);
    }
    this.turnUrls = opts.urls.filter((u) => u.startsWith('turn'));
    this.stunUrls = opts.urls.filter((u) => u.startsWith('stun:'));
    this.secret = opts.secret;
    this.ttlSeconds = opts.ttlSeconds ?? CONFIG_DEFAULTS.TURN_TTL_SECONDS;
    if (this.turnUrls.length > 0 && !this.secret) throw new TypeError('TURN URLs need a TURN secret');
    this.enabled = opts.urls.length > 0;
  }

  /** `iceServers` for an RTCPeerConnection of `identity`, with a fresh credential (`ttlSeconds` overrides the default lifetime). */
  iceServers(identity: string, ttlSeconds = this.ttlSeconds, nowSeconds?: number): IceServer[] {
    const servers: IceServer[] = [];
    if (this.stunUrls.length) servers.push({ urls: this.stunUrls });
    if (this.turnUrls.length) {
      const { username, credential } = turnCredential(this.secret, identity, ttlSeconds, nowSeconds);
      servers.push({ urls: this.turnUrls, username, credential });
    }
    return servers;
  }
}

/** Builds the service from config (`TURN_URLS` comma-separated, `TURN_SECRET`, `TURN_TTL_SECONDS`). */
export function createTurnService(cfg: { TURN_URLS?: string; TURN_SECRET?: string; TURN_TTL_SECONDS?: number }): TurnService {
  const urls = (cfg.TURN_URLS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return new TurnService({ urls, secret: cfg.TURN_SECRET ?? '', ttlSeconds: cfg.TURN_TTL_SECONDS });
}
