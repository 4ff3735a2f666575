import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

/**
 * A real S3-compatible HTTP server (s3rver: S3's REST API over a directory) on 127.0.0.1.
 * `stop()` takes it off the network (connections dropped, port released) with its data kept;
 * `start()` brings it back on the same port, as a store coming back after an outage.
 */
export interface TestS3Server {
  endpoint: string;
  port: number;
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  readonly running: boolean;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and deletes its data. Idempotent. */
  close(): Promise<void>;
}

export async function startS3Server(options: { bucket?: string } = {}): Promise<TestS3Server> {
  const bucket = options.bucket ?? 'hls-test';
  const directory = await mkdtemp(join(tmpdir(), 'stagecast-s3-'));
  let port = 0;
  let instance: S3rver | undefined;
  let closed = false;

  const launch = async (): Promise<void> => {
    const server = new S3rver({
      address: '127.0.0.1',
      port,
      directory,
      silent: true,
      configureBuckets: [{ name: bucket, configs: [] }],
    });
    const address = await server.run();
    port = address.port;
    instance = server;
  };
  await launch();

  const handle: TestS3Server = {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    bucket,
    region: 'us-east-1',
    // s3rver's built-in account.
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    get running() {
      return instance !== undefined;
    },
    async stop() {
      const server = instance;
      if (!server) return;
      instance = undefined;
      const http = (server as unknown as { httpServer: Server }).httpServer;
      const done = server.close();
      http.closeAllConnections();
      await done;
    },
    async start() {
      if (closed) throw new Error('S3 server closed');
      if (!instance) await launch();
    },
    async close() {
      if (closed) return;
      await handle.stop();
      closed = true;
      await rm(directory, { recursive: true, force: true });
    },
  };
  return handle;
}
