/**
 * Cache-Control of what the origin answers, chosen for an edge cache (CDN) in front of it. The
 * README's Public contract (HLS row) says the same in prose.
 */
import { MEDIA_CACHE_CONTROL, PLAYLIST_CACHE_CONTROL } from '../packager/index.ts';

/**
 * A live media playlist asked for without `_HLS_msn`: a player's first load, which must be the
 * newest. Edges revalidate every time; the ETag makes that a 304 while nothing changed.
 */
export const LIVE_PLAYLIST = PLAYLIST_CACHE_CONTROL;

/**
 * A blocking reload's answer holds the part it asked for, whatever moment it is served at, so
 * an edge keyed on the full URL (query included) can answer every viewer asking the same
 * (msn, part) with it. Held one second, the longest HTTP can say below a segment (1 s), as AWS
 * MediaPackage does for LL-HLS: by then viewers ask for later parts anyway.
 */
export const BLOCKING_PLAYLIST = 'public, max-age=1';

/**
 * The live multivariant playlist changes only when the ladder does (a rendition's codecs after
 * a transcoder restart): short, so that a new ladder reaches new viewers within a second.
 */
export const LIVE_MULTIVARIANT = 'public, max-age=1';

/** Parts, segments and inits: names carry the packager's epoch and never repeat (names.ts). */
export const MEDIA = MEDIA_CACHE_CONTROL;

/**
 * 404: not there now (a room not live yet, a segment not stored yet). An edge may remember
 * that for a second, which shields the origin from retry storms and delays nobody long.
 */
export const NOT_FOUND = 'public, max-age=1';

/**
 * 400 and 5xx: never cached. A 400 for a part too far ahead would outlive the moment the part
 * exists, and a 503 is a moment's overload.
 */
export const OTHER_ERRORS = 'no-store';
