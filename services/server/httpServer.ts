import { readFile } from 'node:fs/promises';
import { createServer as createPlainServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Config } from '../core/config.ts';
import { logger } from '../core/logger.ts';
import { ensureDevCertificate, type DevCertificate } from './devCertificate.ts';

/** What the HTTPS server presents. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** DEV_TLS's self-signed certificate, when that is what `cert` is. */
  devCertificate?: DevCertificate;
}

/**
 * The certificate and key from TLS_CERT_FILE/TLS_KEY_FILE, or DEV_TLS's (made if needed); none
 * for plain HTTP. Read before anything else starts, so a failure leaves nothing to close.
 */
export async function loadTls(cfg: Pick<Config, 'TLS_CERT_FILE' | 'TLS_KEY_FILE' | 'DEV_TLS' | 'DEV_TLS_DIR'>): Promise<TlsMaterial | undefined> {
  if (cfg.TLS_CERT_FILE && cfg.TLS_KEY_FILE) {
    const [cert, key] = await Promise.all([readFile(cfg.TLS_CERT_FILE), readFile(cfg.TLS_KEY_FILE)]);
    return { cert, key };
  }
  if (!cfg.DEV_TLS) return undefined;
  const devCertificate = await ensureDevCertificate(cfg.DEV_TLS_DIR);
  const { certFile, fingerprint256, names, created } = devCertificate;
  logger.info({ certFile, fingerprint256, names, created }, 'dev TLS certificate');
  const [cert, key] = await Promise.all([readFile(devCertificate.certFile), readFile(devCertificate.keyFile)]);
  return { cert, key, devCertificate };
}

/**
 * The server PORT listens with: node:https (HTTPS, and WSS for upgrades) with `tls`, else
 * node:http. An https.Server is an http.Server, so the request listener and the WebSocket upgrade
 * handler attach the same way. On a TLS port a plain-HTTP request gets no answer: the handshake
 * fails and the connection is closed. `options` are the HTTP server's own (timeouts and limits,
 * see httpLimits.ts), the same on both.
 */
export function createHttpServer(tls: TlsMaterial | undefined, listener: RequestListener, options: ServerOptions = {}): Server {
  return tls ? createTlsServer({ ...options, cert: tls.cert, key: tls.key }, listener) : createPlainServer(options, listener);
}
