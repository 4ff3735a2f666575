import { ServiceError } from '../core/errors.ts';

/** An object read back from storage. */
export interface StoredObject {
  body: Buffer;
  contentType: string;
  cacheControl?: string;
}

/**
 * Where the packager's objects (playlists, init segments, media segments) live. Keys are
 * relative, slash-separated paths (`room/720p/seg12.m4s`); see `validateKey`. Implementations:
 * DiskStorage (embedded default) and S3Storage (any S3-compatible bucket). Both run the shared
 * contract test in test/storage/contract.ts.
 */
export interface Storage {
  /** Writes the whole object; a reader sees the old object or the new one, never a mix. */
  put(key: string, body: Uint8Array, contentType: string, cacheControl: string): Promise<void>;
  /** The object, or undefined when there is none. */
  get(key: string): Promise<StoredObject | undefined>;
  /** Removes the object; removing a missing one succeeds. */
  delete(key: string): Promise<void>;
  /** Every key that starts with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Releases connections and handles. Idempotent. */
  close(): Promise<void>;
}

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
export const MAX_KEY_LENGTH = 512;

/**
 * Keys are slash-separated segments of [A-Za-z0-9._-], none starting with a dot (so no `.`,
 * `..` or hidden names), no empty segments, no leading slash, no backslash: a key can never
 * name a path outside the storage root, on disk or in a bucket prefix.
 */
export function validateKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new ServiceError('bad_request', 'invalid storage key');
  }
  for (const segment of key.split('/')) {
    if (!SEGMENT.test(segment)) throw new ServiceError('bad_request', 'invalid storage key');
  }
}

/** A prefix for `list`: empty, or a valid key optionally ending with `/`. */
export function validatePrefix(prefix: string): void {
  if (prefix === '') return;
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}
