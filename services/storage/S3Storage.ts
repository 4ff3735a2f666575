import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { validateKey, validatePrefix, type Storage, type StoredObject } from './Storage.ts';
import { CONFIG_DEFAULTS } from '../core/config.ts';

export interface S3StorageOptions {
  /** S3 endpoint URL, e.g. http://127.0.0.1:9000. Config: S3_ENDPOINT. Default: AWS's, from the region. */
  endpoint?: string;
  /** Config: S3_REGION (its default when absent). */
  region?: string;
  /** Config: S3_BUCKET. Required. */
  bucket: string;
  /** Prepended to every key (`live/` → `live/room/index.m3u8`). Config: S3_PREFIX (its default when absent). */
  prefix?: string;
  /** Path-style URLs (bucket in the path), which most non-AWS stores need. Config: S3_FORCE_PATH_STYLE (its default when absent). */
  forcePathStyle?: boolean;
  /** Config: S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY. Default: the SDK's credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Per-request timeout, ms; a hung store must fail the request so the upload queue can retry. Default 10000. */
  requestTimeoutMs?: number;
  /** SDK-level attempts per call; the packager's upload queue retries on top. Default 2. */
  maxAttempts?: number;
}

/**
 * Objects in an S3-compatible bucket. Checksums are only computed or validated when an
 * operation requires them: several S3-compatible stores reject the SDK's default CRC32
 * trailers (aws-chunked uploads).
 */
export class S3Storage implements Storage {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private closed = false;

  constructor(options: S3StorageOptions) {
    if (!options.bucket) throw new TypeError('S3Storage: bucket is required');
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? CONFIG_DEFAULTS.S3_PREFIX;
    if (this.prefix && !this.prefix.endsWith('/')) this.prefix += '/';
    if (this.prefix) validatePrefix(this.prefix);
    const timeout = options.requestTimeoutMs ?? 10_000;
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region ?? CONFIG_DEFAULTS.S3_REGION,
      forcePathStyle: options.forcePathStyle ?? CONFIG_DEFAULTS.S3_FORCE_PATH_STYLE,
      credentials: options.credentials,
      maxAttempts: options.maxAttempts ?? 2,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: Math.min(timeout, 3000), requestTimeout: timeout },
    });
  }

  async put(key: string, body: Uint8Array, contentType: string, cacheControl: string): Promise<void> {
    this.assertOpen();
    validateKey(key);
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + key,
        Body: body,
        ContentLength: body.byteLength,
        ContentType: contentType,
        CacheControl: cacheControl,
      }),
    );
  }

  async get(key: string): Promise<StoredObject | undefined> {
    this.assertOpen();
    validateKey(key);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      const body = Buffer.from(await res.Body!.transformToByteArray());
      return { body, contentType: res.ContentType ?? 'application/octet-stream', cacheControl: res.CacheControl };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    validateKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    this.assertOpen();
    validatePrefix(prefix);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }),
      );
      for (const obj of res.Contents ?? []) if (obj.Key) keys.push(obj.Key.slice(this.prefix.length));
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('storage closed');
  }
}

function isNotFound(err: unknown): boolean {
  if (err instanceof S3ServiceException) {
    return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404;
  }
  return false;
}
