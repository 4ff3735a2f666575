import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { validateKey, validatePrefix, type Storage, type StoredObject } from './Storage.ts';

export interface DiskStorageOptions {
  /** Root directory; created when missing. Config: STORAGE_DIR (default ./.data/hls). */
  rootDir: string;
}

/** Sidecar metadata lives under this directory; valid keys cannot start with a dot. */
const META_DIR = '.meta';
const TMP_DIR = '.tmp';

/**
 * Objects as files under a root directory. Writes are atomic (temporary file in the same
 * filesystem, then rename). Content type and cache control are kept in a JSON sidecar under
 * `<root>/.meta/`, written before the object so a visible object always has its metadata.
 */
export class DiskStorage implements Storage {
  readonly rootDir: string;
  private closed = false;

  constructor(options: DiskStorageOptions) {
    this.rootDir = resolve(options.rootDir);
  }

  async put(key: string, body: Uint8Array, contentType: string, cacheControl: string): Promise<void> {
    this.assertOpen();
    const file = this.pathFor(key);
    const meta = this.metaPathFor(key);
    await this.atomicWrite(meta, JSON.stringify({ contentType, cacheControl }));
    await this.atomicWrite(file, body);
  }

  async get(key: string): Promise<StoredObject | undefined> {
    this.assertOpen();
    const file = this.pathFor(key);
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    let meta: { contentType?: string; cacheControl?: string } = {};
    try {
      meta = JSON.parse(await readFile(this.metaPathFor(key), 'utf8')) as typeof meta;
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    return { body, contentType: meta.contentType ?? 'application/octet-stream', cacheControl: meta.cacheControl };
  }

  async delete(key: string): Promise<void> {
    this.assertOpen();
    await unlinkIfPresent(this.pathFor(key));
    await unlinkIfPresent(this.metaPathFor(key));
  }

  async list(prefix: string): Promise<string[]> {
    this.assertOpen();
    validatePrefix(prefix);
    const keys: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const full = join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile()) keys.push(relative(this.rootDir, full).split(sep).join('/'));
      }
    };
    await walk(this.rootDir);
    return keys.filter((k) => k.startsWith(prefix)).sort();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private pathFor(key: string): string {
    validateKey(key);
    return this.inside(join(this.rootDir, ...key.split('/')));
  }

  private metaPathFor(key: string): string {
    validateKey(key);
    return this.inside(join(this.rootDir, META_DIR, ...key.split('/')) + '.json');
  }

  /** Defence in depth behind validateKey: the resolved path must stay under the root. */
  private inside(path: string): string {
    const rel = relative(this.rootDir, path);
    if (rel.startsWith('..') || resolve(this.rootDir, rel) !== path) throw new Error('storage path escapes the root');
    return path;
  }

  private async atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
    const tmpDir = join(this.rootDir, TMP_DIR);
    await mkdir(tmpDir, { recursive: true });
    await mkdir(dirname(path), { recursive: true });
    const tmp = join(tmpDir, `${randomBytes(8).toString('hex')}.tmp`);
    try {
      await writeFile(tmp, data);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('storage closed');
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
}
