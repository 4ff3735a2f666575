import { Hono } from 'hono';
import type { ApiDeps, AppEnv } from '../types.ts';

/**
 * `GET /healthz`: 200 `{ status: 'ok', engine, rooms }` while the node can serve; 503
 * `{ status: 'engine_died', ... }` once the media engine has died (the node should be replaced).
 */
export function healthRoutes(deps: Pick<ApiDeps, 'engineKind' | 'registry'>) {
  return new Hono<AppEnv>().get('/healthz', (c) => {
    const body = { engine: deps.engineKind, rooms: deps.registry.size };
    if (deps.registry.engineDiedWith !== undefined) return c.json({ status: 'engine_died', ...body }, 503);
    return c.json({ status: 'ok', ...body });
  });
}
