import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DiskStorage } from '../../services/storage/DiskStorage.ts';
import { HOSTILE_KEYS, storageContract } from './contract.ts';

storageContract('disk', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stagecast-disk-'));
  const storage = new DiskStorage({ rootDir: join(dir, 'root') });
  return {
    storage,
    async cleanup() {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('DiskStorage specifics', () => {
  let dir: string;
  let storage: DiskStorage;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stagecast-disk-'));
    storage = new DiskStorage({ rootDir: join(dir, 'root') });
  });
  after(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('never touches a file outside its root, whatever the key', async () => {
    const sentinel = join(dir, 'sentinel.txt');
    await writeFile(sentinel, 'keep me');
    for (const key of [...HOSTILE_KEYS, '../sentinel.txt', '../../sentinel.txt']) {
      await storage.put(key, Buffer.from('evil'), 'text/plain', 'no-cache').catch(() => undefined);
      await storage.delete(key).catch(() => undefined);
    }
    assert.equal(await readFile(sentinel, 'utf8'), 'keep me');
    const entries = await readdir(dir);
    assert.ok(entries.every((n) => n === 'root' || n === 'sentinel.txt'), `unexpected entries: ${entries.join(', ')}`);
  });

  it('leaves no temporary file behind after writes', async () => {
    await storage.put('r/a/seg-x-0.m4s', Buffer.alloc(1000), 'video/mp4', 'no-cache');
    assert.deepEqual(await readdir(join(dir, 'root', '.tmp')), []);
    assert.deepEqual(await storage.list(''), ['r/a/seg-x-0.m4s']);
  });

  it('refuses calls after close', async () => {
    const other = new DiskStorage({ rootDir: join(dir, 'other') });
    await other.close();
    await other.close();
    await assert.rejects(() => other.get('a'));
  });
});
