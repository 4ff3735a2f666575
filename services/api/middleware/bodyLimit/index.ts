import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { ServiceError } from '../../../core/errors.ts';

/**
 * Rejects request bodies over `maxBytes` with 413 `payload_too_large`, whether the size is
 * declared (Content-Length) or only discovered while reading a chunked body. A GET or HEAD that
 * declares no body (no Content-Length, no Transfer-Encoding: among them every HLS playlist and
 * part request) passes untouched: hono's check reads the body stream, which makes the Node
 * adapter build a full Request, a cost the origin paid on every request.
 */
export function bodyLimit(maxBytes: number): MiddlewareHandler {
  const limit = honoBodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ServiceError('payload_too_large', `request body exceeds ${maxBytes} bytes`);
    },
  });
  return (c, next) => {
    const bodiless = (c.req.method === 'GET' || c.req.method === 'HEAD') && c.req.header('content-length') === undefined && c.req.header('transfer-encoding') === undefined;
    return bodiless ? next() : limit(c, next);
  };
}
