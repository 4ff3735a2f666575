import { ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ServiceError, toErrorBody } from '../core/errors.ts';
import { logger } from '../core/logger.ts';
import {
  MEDIA_CONTENT_TYPE,
  PLAYLIST_CACHE_CONTROL,
  PLAYLIST_CONTENT_TYPE,
  PLAYLIST_NAME,
  parseObjectName,
  type HlsPackager,
} from '../packager/index.ts';
import { isRecordingId, recordingPlaylistPath, recordingPrefix } from '../packager/recording.ts';
import { RecordingStore } from '../packager/recordingStore.ts';
import type { Storage } from '../storage/Storage.ts';
import { advancePartLimit, hasCompleteSegment, isBelowWindow, isOutOfRange, isSatisfied, parseBlockingQuery } from './blockingReload.ts';
import * as CacheControl from './cacheControl.ts';
import { hlsCors } from './cors.ts';
import type { LiveEdge, RenderedPlaylist } from './liveEdge.ts';
import { edgeOf, heldObject, liveRendition, NAME, writeLive } from './liveLane.ts';
import { playbackGate, type PlaybackGate } from './playbackGate.ts';

export interface OriginOptions {
  /** The live packager of a room, if it is broadcasting on this node. */
  getPackager: (roomId: string) => HlsPackager | undefined;
  /** Where finished and older objects are read from when memory does not have them. */
  storage: Storage;
  /** A blocked request gives up (503) after this many target durations. Default 3 (the spec's). */
  blockingTimeoutTargetDurations?: number;
  /** Private rooms and their playback tokens (playbackGate.ts). Absent: every room is public. */
  playback?: PlaybackGate;
}

const log = logger.child({ mod: 'origin' });

/**
 * The HLS origin, as a hono app with absolute routes under /hls (mount with
 * `app.route('/', createOriginApp(...))`):
 *
 *   GET /hls/:room/index.m3u8                  multivariant playlist
 *   GET /hls/:room/:rendition/index.m3u8       LL-HLS media playlist (_HLS_msn, _HLS_part)
 *   GET /hls/:room/:rendition/<init|seg|part>  media objects
 *   GET /hls/:room/access                      204 when the request may watch the room (private rooms)
 *   GET /hls/:room/recordings/latest           the newest ready recording: `{ id, startedAt, durationSec, playlist }`, 404 if none
 *   GET /hls/:room/recordings/:id/index.m3u8   a recording (packager/recording.ts): VOD, from storage
 *   GET /hls/:room/recordings/:id/:rendition/<index.m3u8|init|seg>
 *
 * Live playlists and parts come from the packager's memory, so a storage outage never stalls
 * viewers; segments come from memory while recent, else from storage, as does everything of a
 * room that is not live on this node. Blocked requests wait on their rendition's LiveEdge:
 * one gate per awaited (msn, part) or part, one render per playlist revision.
 */
export function createOriginApp(options: OriginOptions): Hono {
  const { getPackager, storage } = options;
  const timeoutFactor = options.blockingTimeoutTargetDurations ?? 3;
  const app = new Hono();

  app.use('/hls/*', hlsCors());
  if (options.playback) app.use('/hls/:room/*', playbackGate(options.playback));

  // For an edge that checks tokens itself (nginx auth_request): 204 once the gate let the request
  // through, without waiting for anything a blocking reload would wait for.
  app.get('/hls/:room/access', (c) => {
    checkName(c.req.param('room'));
    c.header('cache-control', CacheControl.OTHER_ERRORS);
    return c.body(null, 204);
  });
  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => errorResponse(c, new ServiceError('not_found', 'no such resource')));

  const recordings = new RecordingStore(storage);
  app.get('/hls/:room/recordings/latest', async (c) => {
    const room = checkName(c.req.param('room'));
    let latest;
    try {
      latest = (await recordings.list(room)).find((r) => r.state === 'ready');
    } catch (err) {
      log.warn({ room, err: err instanceof Error ? err.message : String(err) }, 'storage list failed');
      throw unavailable('storage unavailable');
    }
    if (!latest) throw new ServiceError('not_found', 'no recording');
    c.header('cache-control', PLAYLIST_CACHE_CONTROL);
    return c.json({ id: latest.id, startedAt: latest.startedAt, durationSec: latest.durationSec, playlist: recordingPlaylistPath(room, latest.id) });
  });

  app.get('/hls/:room/recordings/:id/index.m3u8', async (c) => {
    const room = checkName(c.req.param('room'));
    return fromStorage(c, storage, `${recordingPrefix(room, checkRecordingId(c.req.param('id')))}/${PLAYLIST_NAME}`);
  });

  app.get('/hls/:room/recordings/:id/:rendition/:file', async (c) => {
    const room = checkName(c.req.param('room'));
    const prefix = `${recordingPrefix(room, checkRecordingId(c.req.param('id')))}/${checkName(c.req.param('rendition'))}`;
    const file = c.req.param('file');
    const parsed = parseObjectName(file);
    if (file !== PLAYLIST_NAME && (!parsed || parsed.kind === 'part')) throw new ServiceError('not_found', 'no such resource');
    return fromStorage(c, storage, `${prefix}/${file}`);
  });

  app.get('/hls/:room/index.m3u8', async (c) => {
    const room = checkName(c.req.param('room'));
    const live = getPackager(room)?.multivariantPlaylist();
    if (live !== undefined) {
      c.header('content-type', PLAYLIST_CONTENT_TYPE);
      c.header('cache-control', CacheControl.LIVE_MULTIVARIANT);
      return c.body(live, 200);
    }
    return fromStorage(c, storage, `${room}/${PLAYLIST_NAME}`);
  });

  app.get('/hls/:room/:rendition/index.m3u8', async (c) => {
    const room = checkName(c.req.param('room'));
    const name = checkName(c.req.param('rendition'));
    const blocking = parseBlockingQuery(c.req.query('_HLS_msn'), c.req.query('_HLS_part'));
    const packager = getPackager(room);
    const rendition = liveRendition(packager, name);
    if (!packager || !rendition) return fromStorage(c, storage, `${room}/${name}/${PLAYLIST_NAME}`);
    const edge = edgeOf(packager, rendition);
    if (!blocking) {
      // Only parts so far (the broadcast has just started here): hold the reload for its first segment.
      if (!hasCompleteSegment(rendition) && !rendition.ended) {
        const outcome = await edge.waitForFirstSegment(timeoutFactor * rendition.targetDurationSec * 1000);
        if (outcome === 'timeout') throw unavailable('playlist not available in time');
        if (outcome === 'closed' && !rendition.ended) return fromStorage(c, storage, `${room}/${name}/${PLAYLIST_NAME}`);
      }
      return playlistResponse(c, livePlaylist(edge), CacheControl.LIVE_PLAYLIST);
    }
    if (isBelowWindow(rendition, blocking)) throw new ServiceError('bad_request', '_HLS_msn is older than the playlist window');
    if (!rendition.ended && !isSatisfied(rendition, blocking) && isOutOfRange(rendition, blocking)) {
      throw new ServiceError('bad_request', '_HLS_msn/_HLS_part too far beyond the live edge');
    }
    const outcome = await edge.waitForPlaylist(blocking, timeoutFactor * rendition.targetDurationSec * 1000);
    if (outcome === 'ready' || (outcome === 'closed' && rendition.ended)) {
      return playlistResponse(c, livePlaylist(edge), CacheControl.BLOCKING_PLAYLIST);
    }
    if (outcome === 'closed') return fromStorage(c, storage, `${room}/${name}/${PLAYLIST_NAME}`);
    throw unavailable('playlist update not available in time');
  });

  app.get('/hls/:room/:rendition/:file', async (c) => {
    const room = checkName(c.req.param('room'));
    const name = checkName(c.req.param('rendition'));
    const file = c.req.param('file');
    const parsed = parseObjectName(file);
    if (!parsed) throw new ServiceError('not_found', 'no such resource');
    const packager = getPackager(room);
    const rendition = liveRendition(packager, name);
    if (rendition && packager && packager.objectNames.epoch === parsed.epoch) {
      const data = await fromMemory(edgeOf(packager, rendition), parsed.kind, parsed.n, timeoutFactor);
      if (data) return mediaResponse(c, data);
    }
    if (parsed.kind === 'part') throw new ServiceError('not_found', 'no such part');
    return fromStorage(c, storage, `${room}/${name}/${file}`);
  });

  return app;
}

function livePlaylist(edge: LiveEdge): RenderedPlaylist {
  const rendered = edge.playlist();
  if (rendered === undefined) throw new ServiceError('not_found', 'playlist not ready yet');
  return rendered;
}

/** A part that is announced (PRELOAD-HINT) or about to be is waited for, like a playlist. */
async function fromMemory(edge: LiveEdge, kind: 'init' | 'segment' | 'part', n: number, timeoutFactor: number): Promise<Buffer | undefined> {
  const rendition = edge.rendition;
  const held = heldObject(rendition, kind, n);
  if (held || kind !== 'part') return held;
  const next = rendition.nextPartId;
  if (n < next) return undefined; // gone from memory
  if (n > next + advancePartLimit(rendition.partTargetSec ?? 1)) throw new ServiceError('bad_request', 'part too far beyond the live edge');
  const outcome = await edge.waitForPart(n, timeoutFactor * rendition.targetDurationSec * 1000);
  if (outcome === 'ready') return rendition.getPart(n);
  if (outcome === 'timeout') throw unavailable('part not available in time');
  return undefined;
}

async function fromStorage(c: Context, storage: Storage, key: string): Promise<Response> {
  let object;
  try {
    object = await storage.get(key);
  } catch (err) {
    log.warn({ key, err: err instanceof Error ? err.message : String(err) }, 'storage read failed');
    throw unavailable('storage unavailable');
  }
  if (!object) throw new ServiceError('not_found', 'no such resource');
  const isPlaylist = key.endsWith('.m3u8');
  c.header('content-type', isPlaylist ? PLAYLIST_CONTENT_TYPE : MEDIA_CONTENT_TYPE);
  c.header('cache-control', isPlaylist ? PLAYLIST_CACHE_CONTROL : CacheControl.MEDIA);
  return c.body(new Uint8Array(object.body), 200);
}

/** The rendered bytes as they are; 304 when the caller already has this revision. */
function playlistResponse(c: Context, playlist: RenderedPlaylist, cacheControl: string): Response {
  const conditional = c.req.header('if-none-match') === playlist.etag;
  if (!conditional) {
    const sent = sendDirect(c, PLAYLIST_CONTENT_TYPE, cacheControl, playlist.body, playlist.etag);
    if (sent) return sent;
  }
  c.header('cache-control', cacheControl);
  c.header('etag', playlist.etag);
  if (conditional) return c.body(null, 304);
  c.header('content-type', PLAYLIST_CONTENT_TYPE);
  return c.body(view(playlist.body), 200);
}

function mediaResponse(c: Context, data: Buffer): Response {
  const sent = sendDirect(c, MEDIA_CONTENT_TYPE, CacheControl.MEDIA, data);
  if (sent) return sent;
  c.header('content-type', MEDIA_CONTENT_TYPE);
  c.header('cache-control', CacheControl.MEDIA);
  return c.body(view(data), 200);
}

/**
 * A live answer from memory, written straight to Node's response when the app runs under
 * @hono/node-server (the service), as liveLane.ts writes it. A blocked reload's release sends
 * one of these to every waiter of a part at once. The request id is the one the service's
 * middleware chose. Elsewhere (HEAD, tests through app.request) hono answers.
 */
function sendDirect(c: Context, contentType: string, cacheControl: string, body: Buffer, etag?: string): Response | undefined {
  const outgoing = (c.env as { outgoing?: unknown } | undefined)?.outgoing;
  if (!(outgoing instanceof ServerResponse) || outgoing.headersSent || c.req.method !== 'GET') return undefined;
  const requestId = c.get('requestId' as never) as unknown;
  writeLive(outgoing, typeof requestId === 'string' ? requestId : undefined, contentType, cacheControl, body, etag);
  return RESPONSE_ALREADY_SENT;
}

function view(data: Buffer): Uint8Array<ArrayBuffer> {
  // Buffers from Node are never backed by a SharedArrayBuffer here; view without copying.
  return new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
}

function checkRecordingId(value: string): string {
  if (!isRecordingId(value)) throw new ServiceError('bad_request', 'invalid recording id');
  return value;
}

function checkName(value: string): string {
  if (!NAME.test(value)) throw new ServiceError('bad_request', 'invalid room or rendition name');
  return value;
}

/** The request could not be answered in time: 503 (RFC 8216bis asks for it on blocking timeouts). */
function unavailable(message: string): ServiceError {
  return new ServiceError('unavailable', message, 503);
}

function errorResponse(c: Context, err: unknown): Response {
  const { status, body } = toErrorBody(err);
  if (status >= 500 && status !== 503) log.error({ err: err instanceof Error ? err.message : String(err) }, 'origin request failed');
  c.header('cache-control', status === 404 ? CacheControl.NOT_FOUND : CacheControl.OTHER_ERRORS);
  return c.json(body, status as ContentfulStatusCode);
}
