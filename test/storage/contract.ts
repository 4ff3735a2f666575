import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ServiceError } from '../../services/core/errors.ts';
import type { Storage } from '../../services/storage/Storage.ts';

export interface StorageFixture {
  storage: Storage;
  /** Why the backing server cannot show atomic replacement under concurrent reads, if it cannot. */
  noAtomicOverwrite?: string;
  /** Closes the storage and whatever backs it. */
  cleanup(): Promise<void>;
}

/** Keys that must be refused before any I/O: each could name something outside the root. */
export const HOSTILE_KEYS = [
  '',
  '..',
  '../x',
  'a/../../x',
  'a/./b',
  '/etc/passwd',
  'a//b',
  'a/',
  'a\\..\\b',
  '..\\x',
  '.hidden',
  'a/.meta/x',
  'a%2f..%2fb',
  'a\u0000b',
  'C:\\x',
  'x'.repeat(600),
];

/**
 * The behaviour every Storage implementation owes the packager and the origin. Run by
 * disk.test.ts and s3.test.ts.
 */
export function storageContract(name: string, setup: () => Promise<StorageFixture>): void {
  describe(`Storage contract: ${name}`, () => {
    let fixture: StorageFixture;
    let storage: Storage;
    before(async () => {
      fixture = await setup();
      storage = fixture.storage;
    });
    after(async () => {
      await fixture.cleanup();
    });

    it('stores an object with its content type and cache control', async () => {
      await storage.put('room1/hi/index.m3u8', Buffer.from('#EXTM3U\n'), 'application/vnd.apple.mpegurl', 'no-cache');
      const got = await storage.get('room1/hi/index.m3u8');
      assert.ok(got);
      assert.equal(got.body.toString(), '#EXTM3U\n');
      assert.equal(got.contentType, 'application/vnd.apple.mpegurl');
      assert.equal(got.cacheControl, 'no-cache');
    });

    it('keeps binary bodies byte for byte', async () => {
      const body = randomBytes(1024 * 1024 + 7);
      await storage.put('room1/hi/seg-x-1.m4s', body, 'video/mp4', 'public, max-age=31536000, immutable');
      const got = await storage.get('room1/hi/seg-x-1.m4s');
      assert.ok(got);
      assert.ok(got.body.equals(body));
      assert.equal(got.contentType, 'video/mp4');
      assert.equal(got.cacheControl, 'public, max-age=31536000, immutable');
    });

    it('answers undefined for a missing object', async () => {
      assert.equal(await storage.get('room1/none/nothing.m4s'), undefined);
    });

    // The packager writes one key from one queue at a time, while the origin reads it.
    it('overwrites: a reader during writes sees one whole version, old or new', async (t) => {
      if (fixture.noAtomicOverwrite) return t.skip(fixture.noAtomicOverwrite);
      const a = Buffer.alloc(256 * 1024, 0x61);
      const b = Buffer.alloc(256 * 1024, 0x62);
      await storage.put('room1/hi/over.m3u8', a, 'text/plain', 'no-cache');
      const writes = (async () => {
        for (let i = 0; i < 6; i++) await storage.put('room1/hi/over.m3u8', i % 2 ? a : b, 'text/plain', 'no-cache');
      })();
      const reads = Array.from({ length: 6 }, () => storage.get('room1/hi/over.m3u8'));
      await writes;
      for (const r of await Promise.all(reads)) {
        assert.ok(r);
        assert.ok(r.body.equals(a) || r.body.equals(b), 'a read saw a partial or mixed object');
      }
      const final = await storage.get('room1/hi/over.m3u8');
      assert.ok(final!.body.equals(a), 'the last write wins');
    });

    it('deletes, and deleting a missing object succeeds', async () => {
      await storage.put('room1/hi/gone.m4s', Buffer.from('x'), 'video/mp4', 'no-cache');
      await storage.delete('room1/hi/gone.m4s');
      assert.equal(await storage.get('room1/hi/gone.m4s'), undefined);
      await storage.delete('room1/hi/gone.m4s');
      await storage.delete('room9/never/was.m4s');
    });

    it('lists keys under a prefix, sorted', async () => {
      await storage.put('room2/lo/b.m4s', Buffer.from('b'), 'video/mp4', 'no-cache');
      await storage.put('room2/lo/a.m4s', Buffer.from('a'), 'video/mp4', 'no-cache');
      await storage.put('room2/index.m3u8', Buffer.from('m'), 'application/vnd.apple.mpegurl', 'no-cache');
      await storage.put('room22/x.m4s', Buffer.from('x'), 'video/mp4', 'no-cache');
      assert.deepEqual(await storage.list('room2/'), ['room2/index.m3u8', 'room2/lo/a.m4s', 'room2/lo/b.m4s']);
      assert.deepEqual(await storage.list('room2/lo/'), ['room2/lo/a.m4s', 'room2/lo/b.m4s']);
      assert.deepEqual(await storage.list('nothing-here/'), []);
    });

    it('refuses keys that could leave the root, before any I/O', async () => {
      for (const key of HOSTILE_KEYS) {
        for (const op of [
          () => storage.put(key, Buffer.from('evil'), 'text/plain', 'no-cache'),
          () => storage.get(key),
          () => storage.delete(key),
        ]) {
          await assert.rejects(op, (err: unknown) => err instanceof ServiceError && err.code === 'bad_request', `key ${JSON.stringify(key)}`);
        }
      }
      await assert.rejects(() => storage.list('../'), ServiceError);
    });
  });
}
