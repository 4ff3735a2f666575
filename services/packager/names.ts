/**
 * Object names within a rendition. Each packager instance has an epoch (its start time in
 * base 36) in every media name, so a restarted packager, whose sequence numbers start again
 * at 0, never overwrites an object that CDNs were told is immutable.
 */
export type ObjectKind = 'init' | 'segment' | 'part';

const PATTERN = /^(init|seg|part)-([0-9a-z]{1,16})-(\d{1,15})\.(mp4|m4s)$/;

export class ObjectNames {
  readonly epoch: string;

  constructor(epoch: string) {
    if (!/^[0-9a-z]{1,16}$/.test(epoch)) throw new TypeError('epoch must be 1-16 chars of [0-9a-z]');
    this.epoch = epoch;
  }

  init(generation: number): string {
    return `init-${this.epoch}-${generation}.mp4`;
  }

  segment(msn: number): string {
    return `seg-${this.epoch}-${msn}.m4s`;
  }

  part(id: number): string {
    return `part-${this.epoch}-${id}.m4s`;
  }
}

/** Parses a media object name; undefined for anything that is not one of ours. */
export function parseObjectName(name: string): { kind: ObjectKind; epoch: string; n: number } | undefined {
  const m = PATTERN.exec(name);
  if (!m) return undefined;
  const kind = m[1] === 'init' ? 'init' : m[1] === 'seg' ? 'segment' : 'part';
  if ((kind === 'init') !== (m[4] === 'mp4')) return undefined;
  return { kind, epoch: m[2]!, n: Number(m[3]) };
}

export const PLAYLIST_NAME = 'index.m3u8';
export const PLAYLIST_CONTENT_TYPE = 'application/vnd.apple.mpegurl';
export const MEDIA_CONTENT_TYPE = 'video/mp4';
/** Playlists change every part: caches must revalidate. */
export const PLAYLIST_CACHE_CONTROL = 'no-cache';
/** Media objects never change under a name (see the epoch above). */
export const MEDIA_CACHE_CONTROL = 'public, max-age=31536000, immutable';
