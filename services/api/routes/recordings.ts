import { Hono } from 'hono';
import { z } from 'zod';
import { InvalidStateError, ServiceError } from '../../core/errors.ts';
import { isRecordingId, recordingPlaylistPath, type RecordingInfo } from '../../packager/recording.ts';
import { ROOM_ID_PATTERN } from '../../stage/RoomRegistry.ts';
import { validateJson } from '../middleware/validateJson/index.ts';
import type { ApiDeps, AppEnv } from '../types.ts';

export const roomSettingsBody = z.object({ record: z.boolean() }).strict();

/** A recording as the API lists it. */
export function recordingView(info: RecordingInfo) {
  return {
    id: info.id,
    state: info.state,
    startedAt: info.startedAt,
    ...(info.endedAt ? { endedAt: info.endedAt } : {}),
    durationSec: info.durationSec,
    playlist: recordingPlaylistPath(info.roomId, info.id),
  };
}

function roomIdOf(raw: string): string {
  if (!ROOM_ID_PATTERN.test(raw)) throw new ServiceError('bad_request', 'invalid room id');
  return raw;
}

/**
 * Room settings and recordings, behind the API key (app.ts):
 *   GET    /rooms/:id/settings            → 200 `{ record }` (the room's own setting, else RECORD)
 *   PATCH  /rooms/:id/settings `{ record }` → 200 `{ record }`; applies from the next broadcast start
 *   GET    /rooms/:id/recordings          → 200 `{ recordings: [{ id, state, startedAt, endedAt?, durationSec, playlist }] }`, newest first
 *   DELETE /rooms/:id/recordings/:rid     → 200 `{ id, deleted: true }` once every object is gone;
 *                                           404 `not_found`; 400 `bad_request` for an id that is not one
 *                                           of ours (`..`, slashes, encoded or not); 409 `invalid_state`
 *                                           while that recording is being written
 * Recordings outlive their room: listing and erasing need no live room, only a valid id.
 */
export function recordingRoutes(deps: Pick<ApiDeps, 'registry' | 'broadcasts' | 'recordings'>) {
  const { registry, broadcasts, recordings } = deps;
  const store = () => {
    if (!recordings) throw new ServiceError('not_found', 'recordings are not available');
    return recordings;
  };
  return new Hono<AppEnv>()
    .get('/rooms/:id/settings', (c) => {
      const room = registry.require(c.req.param('id'));
      return c.json({ record: broadcasts.recordingEnabled(room.id) });
    })
    .patch('/rooms/:id/settings', validateJson(roomSettingsBody), (c) => {
      const room = registry.require(c.req.param('id'));
      broadcasts.setRecording(room.id, c.get('json').record);
      return c.json({ record: broadcasts.recordingEnabled(room.id) });
    })
    .get('/rooms/:id/recordings', async (c) => {
      const roomId = roomIdOf(c.req.param('id'));
      const list = await store().list(roomId);
      return c.json({ recordings: list.map(recordingView) });
    })
    .delete('/rooms/:id/recordings/:rid', async (c) => {
      const roomId = roomIdOf(c.req.param('id'));
      const rid = c.req.param('rid');
      if (!isRecordingId(rid)) throw new ServiceError('bad_request', 'invalid recording id');
      if (broadcasts.activeRecording(roomId) === rid) throw new InvalidStateError('the recording is still being written: stop the broadcast first');
      if (!(await store().delete(roomId, rid))) throw new ServiceError('not_found', 'no such recording');
      return c.json({ id: rid, deleted: true });
    });
}
