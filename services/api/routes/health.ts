import { Hono } from 'hono';
import type { ApiDeps, AppEnv } from '../types.ts';

/** `GET /healthz`: 200 while the process serves requests. */
export function healthRoutes(deps: Pick<ApiDeps, 'engineKind' | 'registry'>) {
  return new Hono<AppEnv>().get('/healthz', (c) => c.json({ status: 'ok', engine: deps.engineKind, rooms: deps.registry.size }));
}
