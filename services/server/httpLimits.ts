import type { ServerOptions } from 'node:http';
import type { Config } from '../core/config.ts';

/** How often Node checks open connections against the timeouts below, at most, ms (Node's own default is 30000). */
const MAX_CHECK_INTERVAL_MS = 1000;

/**
 * The Node HTTP server's limits on what a client sends, from config: a client that takes longer
 * than HTTP_HEADERS_TIMEOUT_MS for its headers, or HTTP_REQUEST_TIMEOUT_MS for its whole request
 * (a slow body), gets 408 and its connection closes; a header section over HTTP_MAX_HEADER_BYTES
 * gets 431. Node checks the timeouts every `connectionsCheckingInterval`, so that interval is a
 * quarter of the shorter timeout, at most a second, and a slow client is cut off within about
 * 1.25 times its timeout.
 */
export function httpServerOptions(cfg: Pick<Config, 'HTTP_HEADERS_TIMEOUT_MS' | 'HTTP_REQUEST_TIMEOUT_MS' | 'HTTP_MAX_HEADER_BYTES'>): ServerOptions {
  return {
    headersTimeout: cfg.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeout: cfg.HTTP_REQUEST_TIMEOUT_MS,
    maxHeaderSize: cfg.HTTP_MAX_HEADER_BYTES,
    connectionsCheckingInterval: Math.min(MAX_CHECK_INTERVAL_MS, Math.ceil(Math.min(cfg.HTTP_HEADERS_TIMEOUT_MS, cfg.HTTP_REQUEST_TIMEOUT_MS) / 4)),
  };
}
