import { Hono } from 'hono';
import { z } from 'zod';
import { validateJson } from '../middleware/validateJson/index.ts';
import type { ApiDeps, AppEnv } from '../types.ts';

export const metadataBody = z.object({ payload: z.unknown().refine((v) => v !== undefined, 'required') }).strict();

/**
 * Timed metadata, behind the API key (app.ts):
 *   POST /rooms/:id/metadata `{ payload }` → 201 `{ id, payload, at }`: inserted at the current
 *     media time of the live broadcast (EXT-X-DATERANGE), and sent to stage members as `metadata`.
 *     400 `bad_request` (body not JSON, no payload), 413 `payload_too_large` (payload over 1 KiB
 *     as JSON), 409 `invalid_state` (no live broadcast, or no media yet), 404 unknown room.
 */
export function metadataRoutes(deps: Pick<ApiDeps, 'registry' | 'broadcasts'>) {
  const { registry, broadcasts } = deps;
  return new Hono<AppEnv>().post('/rooms/:id/metadata', validateJson(metadataBody), (c) => {
    const room = registry.require(c.req.param('id'));
    return c.json(broadcasts.insertMetadata(room.id, c.get('json').payload), 201);
  });
}
