import { createMiddleware } from 'hono/factory';

/**
 * CORS for the WHIP/WHEP endpoints, which browser-based clients on other origins call. They
 * authenticate with a Bearer token, not cookies, so any origin may call them. OPTIONS gets a
 * 204 preflight answer with `Accept-Post: application/sdp` (RFC 9725).
 */
export function whipCors() {
  return createMiddleware(async (c, next) => {
    c.header('access-control-allow-origin', '*');
    c.header('access-control-expose-headers', 'Location, ETag, Link, Accept-Post, x-request-id');
    if (c.req.method === 'OPTIONS') {
      c.header('access-control-allow-methods', 'POST, DELETE, PATCH, OPTIONS');
      c.header('access-control-allow-headers', 'Authorization, Content-Type, If-Match, x-request-id');
      c.header('access-control-max-age', '600');
      c.header('accept-post', 'application/sdp');
      return c.body(null, 204);
    }
    await next();
  });
}
