import { DiskStorage } from './DiskStorage.ts';
import { S3Storage, type S3StorageOptions } from './S3Storage.ts';
import type { Storage } from './Storage.ts';

export { DiskStorage, type DiskStorageOptions } from './DiskStorage.ts';
export { S3Storage, type S3StorageOptions } from './S3Storage.ts';
export { validateKey, type Storage, type StoredObject } from './Storage.ts';

/** The storage settings, as the server's config gives them. */
export type StorageOptions = { kind: 'disk'; rootDir: string } | ({ kind: 's3' } & S3StorageOptions);

/** Builds the configured storage (STORAGE=disk|s3). */
export function createStorage(options: StorageOptions): Storage {
  return options.kind === 'disk' ? new DiskStorage({ rootDir: options.rootDir }) : new S3Storage(options);
}
