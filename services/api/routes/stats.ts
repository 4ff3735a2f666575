import { Hono } from 'hono';
import { apiKeyAuth } from '../middleware/apiKey/index.ts';
import type { ApiDeps, AppEnv } from '../types.ts';

/**
 * `GET /api/stats`: the media engine's counters (rooms, legs, RTP packets forwarded, engine CPU
 * time in microseconds). Benchmarks divide CPU by packets to get the per-packet cost.
 */
export function statsRoutes(deps: Pick<ApiDeps, 'apiKey' | 'engineStats'>) {
  return new Hono<AppEnv>().use('*', apiKeyAuth(deps.apiKey)).get('/stats', async (c) => c.json(await deps.engineStats()));
}
