import { createMiddleware } from 'hono/factory';

/**
 * CORS for HLS: players on any origin fetch playlists and media without credentials. Every
 * response (errors included) carries the headers, and OPTIONS gets a 204 preflight answer.
 */
export function hlsCors() {
  return createMiddleware(async (c, next) => {
    c.header('access-control-allow-origin', '*');
    c.header('access-control-expose-headers', 'Content-Length, Content-Type, Cache-Control, Age, Date');
    if (c.req.method === 'OPTIONS') {
      c.header('access-control-allow-methods', 'GET, HEAD, OPTIONS');
      c.header('access-control-allow-headers', 'Range, If-None-Match, If-Modified-Since');
      c.header('access-control-max-age', '600');
      return c.body(null, 204);
    }
    await next();
  });
}
