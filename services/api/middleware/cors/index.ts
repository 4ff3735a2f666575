import { cors } from 'hono/cors';
import { createMiddleware } from 'hono/factory';

/**
 * CORS for the WHIP/WHEP endpoints, which browser-based clients on other origins call. They
 * authenticate with a Bearer token, not cookies, so any origin may call them. hono's `cors`
 * answers the preflight (204); this adds `Accept-Post: application/sdp` to it (RFC 9725).
 */
export function whipCors() {
  const policy = cors({
    origin: '*',
    allowMethods: ['POST', 'DELETE', 'PATCH', 'OPTIONS'],
    allowHeaders: ['Authorization', 'Content-Type', 'If-Match', 'x-request-id'],
    exposeHeaders: ['Location', 'ETag', 'Link', 'Accept-Post', 'x-request-id'],
    maxAge: 600,
  });
  return createMiddleware(async (c, next) => {
    // `cors` returns a response only when it answers a preflight itself.
    const preflight = await policy(c, next);
    if (preflight) preflight.headers.set('accept-post', 'application/sdp');
    return preflight;
  });
}
