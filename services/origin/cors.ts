import type { MiddlewareHandler } from 'hono';

const ALLOW_METHODS = 'GET,HEAD,OPTIONS';
const ALLOW_HEADERS = 'Range,If-None-Match,If-Modified-Since';
const EXPOSE_HEADERS = 'Content-Length,Content-Type,Cache-Control,Age,Date';
const MAX_AGE = '600';

/** What every answer under /hls carries, as flat header lines (the origin's direct answers, liveLane.ts). */
export const HLS_CORS_HEADER_LINES: readonly string[] = ['access-control-allow-origin', '*', 'access-control-expose-headers', EXPOSE_HEADERS];

/**
 * CORS for HLS: players on any origin fetch playlists and media without credentials. Every
 * response (errors included) carries the headers, and OPTIONS gets a 204 preflight answer;
 * the same headers hono's `cors` sends with these options.
 *
 * Not hono's `cors` itself: it sets its headers on `c.res` before the handler runs, and hono
 * then rebuilds the handler's response around a stream of its body (a real Response, a copy of
 * the bytes, a web stream written chunk by chunk), on every request. Headers set with
 * `c.header()` before the handler go into the handler's response as it is built.
 */
export function hlsCors(): MiddlewareHandler {
  return async (c, next) => {
    for (let i = 0; i < HLS_CORS_HEADER_LINES.length; i += 2) c.header(HLS_CORS_HEADER_LINES[i]!, HLS_CORS_HEADER_LINES[i + 1]);
    if (c.req.method !== 'OPTIONS') return next();
    c.header('access-control-max-age', MAX_AGE);
    c.header('access-control-allow-methods', ALLOW_METHODS);
    c.header('access-control-allow-headers', ALLOW_HEADERS);
    return c.body(null, 204);
  };
}
