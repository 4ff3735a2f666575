import { createMiddleware } from 'hono/factory';
import { bearerToken, type TokenService } from '../../../auth/tokens.ts';
import type { TokenEnv } from '../../types.ts';

/**
 * Verifies `Authorization: Bearer <room token>` against the `:room` path parameter and puts
 * the claims in `c.var.claims`. Missing, malformed, expired or forged tokens are 401
 * `unauthorized`; a genuine token for another room is 403 `forbidden`.
 */
export function roomToken(tokens: TokenService, param = 'room') {
  return createMiddleware<TokenEnv>(async (c, next) => {
    const claims = await tokens.verify(bearerToken(c.req.header('authorization')), c.req.param(param));
    c.set('claims', claims);
    await next();
  });
}
