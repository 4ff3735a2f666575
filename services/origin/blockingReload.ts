import { ServiceError } from '../core/errors.ts';
import type { Rendition } from '../packager/index.ts';

/** Parsed `_HLS_msn` / `_HLS_part` of a playlist request. */
export interface BlockingRequest {
  msn: number;
  part?: number;
}

const DECIMAL = /^\d{1,15}$/;

/**
 * Reads the blocking-reload query. Undefined when the request does not block. `_HLS_part`
 * without `_HLS_msn`, or a value that is not a decimal integer, is a bad request.
 */
export function parseBlockingQuery(msn: string | undefined, part: string | undefined): BlockingRequest | undefined {
  if (msn === undefined) {
    if (part !== undefined) throw new ServiceError('bad_request', '_HLS_part requires _HLS_msn');
    return undefined;
  }
  if (!DECIMAL.test(msn) || (part !== undefined && !DECIMAL.test(part))) {
    throw new ServiceError('bad_request', '_HLS_msn and _HLS_part must be decimal integers');
  }
  return { msn: Number(msn), part: part === undefined ? undefined : Number(part) };
}

/**
 * Parts a request may run ahead of the live edge (the spec's Advance Part Limit): three
 * divided by PART-TARGET when that is under a second, else three.
 */
export function advancePartLimit(partTargetSec: number): number {
  return partTargetSec < 1 ? Math.floor(3 / partTargetSec) : 3;
}

/**
 * Whether the rendition's live playlist already holds what the request waits for. A playlist
 * without a complete segment holds nothing yet: players take one with parts alone as empty
 * (hls.js: levelEmptyError, and the level is dropped), which happens when a broadcast moves to
 * another node and carries its numbering on (its first segment is still open).
 */
export function isSatisfied(rendition: Rendition, req: BlockingRequest): boolean {
  if (!hasCompleteSegment(rendition)) return false;
  if (req.part === undefined) return rendition.lastCompleteMsn() >= req.msn;
  const pos = rendition.position();
  if (!pos) return false;
  return pos.msn > req.msn || (pos.msn === req.msn && pos.part >= req.part);
}

/**
 * Older than the oldest segment the live playlist lists (its MEDIA-SEQUENCE): the segment has
 * left the window, so no playlist will ever hold it as asked. Answer 400 at once, as for a
 * request too far ahead, rather than a playlist that does not contain it.
 */
export function isBelowWindow(rendition: Rendition, req: BlockingRequest): boolean {
  return req.msn < rendition.mediaSequence();
}

/** Too far ahead of the live edge to wait for: answer 400 at once (RFC 8216bis 6.2.5.2). */
export function isOutOfRange(rendition: Rendition, req: BlockingRequest): boolean {
  const pos = rendition.position();
  const lastMsn = pos?.msn ?? -1;
  if (req.msn > lastMsn + 2) return true;
  if (req.part === undefined) return false;
  const limit = advancePartLimit(rendition.partTargetSec ?? 1);
  if (!pos || req.msn > pos.msn) return req.part > limit;
  return req.msn === pos.msn && req.part > pos.part + limit;
}

/** The live playlist lists a complete segment (EXTINF), not only the parts of an open one. */
export function hasCompleteSegment(rendition: Rendition): boolean {
  return rendition.lastCompleteMsn() >= 0;
}
