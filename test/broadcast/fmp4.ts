/**
 * Just enough fragmented-MP4 parsing for tests: top-level boxes as they stream in, and the
 * video sample entry (avc1 size, avcC profile/level) from the init segment.
 */
import type { Readable } from 'node:stream';

export interface BoxRef {
  type: string;
  start: number;
  end: number;
  /** Offset of the payload (after the size/type header). */
  body: number;
}

export function* boxes(buf: Buffer, start = 0, end = buf.length): Generator<BoxRef> {
  let at = start;
  while (at + 8 <= end) {
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let body = at + 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(at + 8));
      body = at + 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < 8 || at + size > end) return;
    yield { type, start: at, end: at + size, body };
    at += size;
  }
}

/** First box found along `path` (e.g. ['trak', 'mdia']) below the range. */
export function findBox(buf: Buffer, path: string[], start = 0, end = buf.length): BoxRef | undefined {
  const [head, ...rest] = path;
  for (const box of boxes(buf, start, end)) {
    if (box.type !== head) continue;
    if (rest.length === 0) return box;
    const found = findBox(buf, rest, box.body, box.end);
    if (found) return found;
  }
  return undefined;
}

export interface VideoEntry {
  width: number;
  height: number;
  /** `avc1.PPCCLL` from avcC. */
  codec: string;
}

/** The H.264 sample entry of the video track in a moov box. */
export function videoEntry(moov: Buffer): VideoEntry | undefined {
  for (const trak of boxes(moov, 8)) {
    if (trak.type !== 'trak') continue;
    const stsd = findBox(moov, ['mdia', 'minf', 'stbl', 'stsd'], trak.body, trak.end);
    if (!stsd) continue;
    // stsd: version/flags (4) + entry count (4), then sample entries.
    for (const entry of boxes(moov, stsd.body + 8, stsd.end)) {
      if (entry.type !== 'avc1') continue;
      const width = moov.readUInt16BE(entry.body + 24);
      const height = moov.readUInt16BE(entry.body + 26);
      const avcC = findBox(moov, ['avcC'], entry.body + 78, entry.end);
      const hex = (n: number) => n.toString(16).padStart(2, '0');
      const codec = avcC
        ? `avc1.${hex(moov[avcC.body + 1]!)}${hex(moov[avcC.body + 2]!)}${hex(moov[avcC.body + 3]!)}`
        : 'avc1';
      return { width, height, codec };
    }
  }
  return undefined;
}

/** Reads an fMP4 byte stream and records its top-level boxes as they complete. */
export class Fmp4Watcher {
  readonly types: string[] = [];
  moofs = 0;
  bytes = 0;
  video: VideoEntry | undefined;
  /** `performance.now()` when the init segment (moov) and the first fragment (moof) completed. */
  initAt: number | undefined;
  firstMoofAt: number | undefined;
  ended = false;
  #pending: Buffer = Buffer.alloc(0);
  #waiters: (() => void)[] = [];

  constructor(stream: Readable) {
    stream.on('data', (chunk: Buffer) => this.#push(chunk));
    stream.on('end', () => this.#finish());
    stream.on('close', () => this.#finish());
    stream.on('error', () => this.#finish());
  }

  /** Resolves when `predicate` holds, rejects after `timeoutMs`. */
  until(predicate: (w: this) => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; boxes so far: ${this.types.slice(0, 8).join(',')} (${this.moofs} moof)`));
      }, timeoutMs);
      const check = () => {
        if (!predicate(this)) return;
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== check);
        resolve();
      };
      this.#waiters.push(check);
    });
  }

  #push(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    let consumed = 0;
    for (const box of boxes(this.#pending)) {
      this.types.push(box.type);
      if (box.type === 'moov') {
        this.video = videoEntry(this.#pending.subarray(box.start, box.end));
        this.initAt = performance.now();
      } else if (box.type === 'moof') {
        this.moofs++;
        this.firstMoofAt ??= performance.now();
      }
      consumed = box.end;
    }
    this.#pending = this.#pending.subarray(consumed);
    for (const w of [...this.#waiters]) w();
  }

  #finish(): void {
    this.ended = true;
    for (const w of [...this.#waiters]) w();
  }
}
