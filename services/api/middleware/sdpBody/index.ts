import { createMiddleware } from 'hono/factory';
import { InvalidSdpError, ServiceError } from '../../../core/errors.ts';

/**
 * Cheap shape check done before any engine work: an SDP body starts with `v=0` and has at
 * least one media section. The engine parses it fully and may still reject it.
 */
export function assertSdpShape(sdp: string): void {
  if (sdp.trim() === '') throw new InvalidSdpError('empty SDP');
  if (!/^v=0\r?\n/.test(sdp)) throw new InvalidSdpError('SDP must start with v=0');
  if (!/(^|\r?\n)m=(audio|video|application) /.test(sdp)) throw new InvalidSdpError('SDP has no media section (m=)');
}

/** Requires `Content-Type: application/sdp` (415 otherwise), reads and checks it; the handler gets `c.get('sdp')`. */
export function sdpBody() {
  return createMiddleware<{ Variables: { sdp: string } }>(async (c, next) => {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/sdp\b/i.test(type)) throw new ServiceError('bad_request', 'expected Content-Type: application/sdp', 415);
    const sdp = await c.req.text();
    assertSdpShape(sdp);
    c.set('sdp', sdp);
    await next();
  });
}
