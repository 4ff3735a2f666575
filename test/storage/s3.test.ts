import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { S3Storage } from '../../services/storage/S3Storage.ts';
import { startS3Server, type TestS3Server } from '../support/s3server.ts';
import { storageContract } from './contract.ts';

function s3StorageFor(server: TestS3Server, prefix = 'live'): S3Storage {
  return new S3Storage({
    endpoint: server.endpoint,
    region: server.region,
    bucket: server.bucket,
    prefix,
    forcePathStyle: true,
    credentials: server.credentials,
    requestTimeoutMs: 2000,
  });
}

storageContract('s3 (s3rver over HTTP)', async () => {
  const server = await startS3Server();
  const storage = s3StorageFor(server);
  return {
    storage,
    // S3 itself replaces objects atomically; the test server does not.
    noAtomicOverwrite: 's3rver rewrites an object file in place, so a concurrent GET can be cut short',
    async cleanup() {
      await storage.close();
      await server.close();
    },
  };
});

describe('S3Storage specifics', () => {
  let server: TestS3Server;
  let storage: S3Storage;
  before(async () => {
    server = await startS3Server();
    storage = s3StorageFor(server, 'pre/fix');
  });
  after(async () => {
    await storage.close();
    await server.close();
  });

  it('writes under the prefix, with the content type visible to plain HTTP clients', async () => {
    await storage.put('room/hi/index.m3u8', Buffer.from('#EXTM3U\n'), 'application/vnd.apple.mpegurl', 'no-cache');
    const res = await fetch(`${server.endpoint}/${server.bucket}/pre/fix/room/hi/index.m3u8`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(await res.text(), '#EXTM3U\n');
    assert.deepEqual(await storage.list('room/'), ['room/hi/index.m3u8']);
  });

  it('fails fast (no hang) while the server is down, and works again after', async () => {
    await server.stop();
    const t0 = performance.now();
    await assert.rejects(() => storage.put('room/hi/x.m4s', Buffer.from('x'), 'video/mp4', 'no-cache'));
    assert.ok(performance.now() - t0 < 5000);
    await server.start();
    await storage.put('room/hi/x.m4s', Buffer.from('x'), 'video/mp4', 'no-cache');
    assert.equal((await storage.get('room/hi/x.m4s'))!.body.toString(), 'x');
  });
});
