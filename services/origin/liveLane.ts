import type { IncomingMessage, ServerResponse } from 'node:http';
import { REQUEST_ID_HEADER, requestIdFor } from '../core/requestId.ts';
import { logger } from '../core/logger.ts';
import { MEDIA_CONTENT_TYPE, PLAYLIST_CONTENT_TYPE, PLAYLIST_NAME, parseObjectName, type HlsPackager, type Rendition } from '../packager/index.ts';
import { hasCompleteSegment } from './blockingReload.ts';
import * as CacheControl from './cacheControl.ts';
import { HLS_CORS_HEADER_LINES } from './cors.ts';
import { LiveEdge } from './liveEdge.ts';

const log = logger.child({ mod: 'origin' });

export const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** One LiveEdge per rendition, whoever serves it (the hono routes and the lane share them). */
const edges = new WeakMap<Rendition, LiveEdge>();

export function edgeOf(packager: HlsPackager, rendition: Rendition): LiveEdge {
  let edge = edges.get(rendition);
  if (!edge) {
    edge = new LiveEdge(rendition, packager.objectNames.epoch);
    edges.set(rendition, edge);
  }
  return edge;
}

export function liveRendition(packager: HlsPackager | undefined, name: string): Rendition | undefined {
  if (!packager || packager.closed) return undefined;
  return packager.rendition(name);
}

/** A live object of the rendition in memory now, by its parsed name; undefined when it is not (yet, or any more). */
export function heldObject(rendition: Rendition, kind: 'init' | 'segment' | 'part', n: number): Buffer | undefined {
  return kind === 'part' ? rendition.getPart(n) : kind === 'segment' ? rendition.getSegment(n) : rendition.getInit(n);
}

/**
 * Writes a live answer from memory to Node's response: one flat list of header lines (the CORS
 * pair of cors.ts, the request id, the resource's own) and the bytes, without the Headers and
 * Response objects hono and its adapter build per request.
 */
export function writeLive(res: ServerResponse, requestId: string | undefined, contentType: string, cacheControl: string, body: Buffer, etag?: string): void {
  const lines = [...HLS_CORS_HEADER_LINES];
  if (requestId !== undefined) lines.push(REQUEST_ID_HEADER, requestId);
  lines.push('content-type', contentType, 'cache-control', cacheControl, 'content-length', String(body.byteLength));
  if (etag !== undefined) lines.push('etag', etag);
  res.writeHead(200, lines);
  res.end(body);
}

export interface LiveLaneOptions {
  getPackager: (roomId: string) => HlsPackager | undefined;
  /** Private rooms are left to the app (its playback gate). Absent: every room is public. */
  isPrivate?: (roomId: string) => boolean;
}

/**
 * The origin's fast lane, in front of the hono app at Node's request listener: a GET for a live
 * object this node holds in memory right now (a part, a recent segment, an init segment, or the
 * plain reload of a live playlist that lists a complete segment) of a public room is answered
 * at once, with the headers the app's routes would send. It returns false, having touched
 * nothing, for everything else (blocking reloads, waits, conditional requests, queries,
 * private rooms, storage, errors), which the app then answers. An LL-HLS audience's part
 * requests are half its requests, and this is what makes them cheap (bench/origin-load.ts).
 */
export function createLiveLane(options: LiveLaneOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = req.url;
    if (req.method !== 'GET' || url === undefined || !url.startsWith('/hls/') || url.includes('?') || req.headers['if-none-match'] !== undefined) return false;
    const parts = url.split('/');
    // ['', 'hls', room, rendition, file]
    if (parts.length !== 5) return false;
    const [, , room, name, file] = parts as [string, string, string, string, string];
    if (!NAME.test(room) || !NAME.test(name) || options.isPrivate?.(room)) return false;
    const packager = options.getPackager(room);
    const rendition = liveRendition(packager, name);
    if (!packager || !rendition) return false;
    let body: Buffer | undefined;
    let contentType = MEDIA_CONTENT_TYPE;
    let cacheControl = CacheControl.MEDIA;
    let etag: string | undefined;
    if (file === PLAYLIST_NAME) {
      if (!hasCompleteSegment(rendition) && !rendition.ended) return false;
      const playlist = edgeOf(packager, rendition).playlist();
      if (!playlist) return false;
      body = playlist.body;
      etag = playlist.etag;
      contentType = PLAYLIST_CONTENT_TYPE;
      cacheControl = CacheControl.LIVE_PLAYLIST;
    } else {
      const parsed = parseObjectName(file);
      if (!parsed || parsed.epoch !== packager.objectNames.epoch) return false;
      body = heldObject(rendition, parsed.kind, parsed.n);
      if (!body) return false;
    }
    const id = requestIdFor(req.headers[REQUEST_ID_HEADER] as string | undefined);
    writeLive(res, id, contentType, cacheControl, body, etag);
    if (log.isLevelEnabled('debug')) log.debug({ reqId: id, method: 'GET', path: url, status: 200, lane: true }, 'request');
    return true;
  };
}
