import { createHash, timingSafeEqual } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import { bearerToken } from '../../../auth/tokens.ts';
import { ServiceError } from '../../../core/errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * `Authorization: Bearer <API_KEY>`. Compared in constant time over SHA-256 digests, so
 * neither the content nor the length of the key leaks through timing.
 */
export function apiKeyAuth(apiKey: string) {
  const expected = digest(apiKey);
  return createMiddleware(async (c, next) => {
    const given = bearerToken(c.req.header('authorization'));
    if (!given || !timingSafeEqual(digest(given), expected)) {
      throw new ServiceError('unauthorized', given ? 'invalid API key' : 'missing API key (Authorization: Bearer <API_KEY>)');
    }
    await next();
  });
}
