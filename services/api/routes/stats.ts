import { Hono } from 'hono';
import type { ApiDeps, AppEnv } from '../types.ts';

/**
 * `GET /api/stats`, behind the API key (app.ts): the media engine's counters (rooms, legs, RTP
 * packets forwarded, engine CPU time in microseconds). Benchmarks divide CPU by packets to get
 * the per-packet cost.
 */
export function statsRoutes(deps: Pick<ApiDeps, 'engineStats'>) {
  return new Hono<AppEnv>().get('/stats', async (c) => c.json(await deps.engineStats()));
}
