/** One RTCIceServer, as browsers and the engine's EngineOptions.iceServers take it. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface TurnOptions {
  /** `turn:`/`turns:` (and optionally `stun:`) URLs of the coturn servers, e.g. `turn:turn.example.com:3478?transport=udp`. */
  urls: string[];
  /** coturn's `static-auth-secret`. */
  secret: string;
  /** Lifetime of issued credentials, seconds. Config: TURN_TTL_SECONDS (its default when absent). */
  ttlSeconds?: number;
}

export interface TurnCredential {
  /** `${expiry}:${identity}`, expiry in Unix seconds. */
  username: string;
  /** base64(HMAC-SHA1(secret, username)). */
  credential: string;
  /** Unix seconds after which the TURN server refuses it. */
  expiresAt: number;
}
