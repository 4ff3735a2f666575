/**
 * ISO BMFF (MP4) box primitives: just enough to walk the boxes ffmpeg writes for fragmented
 * MP4 (ftyp, moov, moof, mdat and their children). Sizes of 1 (64-bit) are supported; size 0
 * ("to end of file") is only accepted for the last box of a buffer.
 */

export interface Box {
  type: string;
  /** Offset of the box header within the buffer that was walked. */
  start: number;
  /** Offset of the first payload byte (after size, type and any large size). */
  payloadStart: number;
  /** Offset one past the last byte of the box. */
  end: number;
}

export class Mp4ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Mp4ParseError';
  }
}

/** Reads the header of the box at `offset`; undefined when fewer bytes than the header remain. */
export function readBoxHeader(buf: Uint8Array, offset: number, limit = buf.length): Box | undefined {
  if (limit - offset < 8) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let size = view.getUint32(offset);
  const type = String.fromCharCode(buf[offset + 4]!, buf[offset + 5]!, buf[offset + 6]!, buf[offset + 7]!);
  let payloadStart = offset + 8;
  if (size === 1) {
    if (limit - offset < 16) return undefined;
    const big = view.getBigUint64(offset + 8);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Mp4ParseError(`box ${type} too large`);
    size = Number(big);
    payloadStart = offset + 16;
  } else if (size === 0) {
    size = limit - offset;
  }
  if (size < payloadStart - offset) throw new Mp4ParseError(`box ${type} has invalid size ${size}`);
  return { type, start: offset, payloadStart, end: offset + size };
}

/** The complete child boxes within [start, end). Throws when a child overruns its parent. */
export function childBoxes(buf: Uint8Array, start: number, end: number): Box[] {
  const boxes: Box[] = [];
  let offset = start;
  while (offset < end) {
    const box = readBoxHeader(buf, offset, end);
    if (!box) throw new Mp4ParseError('truncated box header');
    if (box.end > end) throw new Mp4ParseError(`box ${box.type} overruns its parent`);
    boxes.push(box);
    offset = box.end;
  }
  return boxes;
}

/** The first child of `parent` with `type`, or undefined. */
export function findChild(buf: Uint8Array, parent: Box, type: string, skip = 0): Box | undefined {
  return childBoxes(buf, parent.payloadStart + skip, parent.end).find((b) => b.type === type);
}

/** Follows a path of box types from a parent (`['mdia', 'minf', 'stbl']`). */
export function findPath(buf: Uint8Array, parent: Box, path: string[]): Box | undefined {
  let current: Box | undefined = parent;
  for (const type of path) {
    if (!current) return undefined;
    current = findChild(buf, current, type);
  }
  return current;
}

/** Big-endian cursor over a box payload. Reads past the end throw Mp4ParseError. */
export class Cursor {
  private readonly view: DataView;
  offset: number;
  private readonly end: number;

  constructor(buf: Uint8Array, start: number, end: number) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.offset = start;
    this.end = end;
  }

  private need(n: number): void {
    if (this.offset + n > this.end) throw new Mp4ParseError('box payload truncated');
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.offset++);
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.offset);
    this.offset += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.offset);
    this.offset += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Mp4ParseError('64-bit value too large');
    return Number(v);
  }

  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }

  /** Reads a full box's version (8 bits) and flags (24 bits). */
  versionAndFlags(): { version: number; flags: number } {
    const word = this.u32();
    return { version: word >>> 24, flags: word & 0xffffff };
  }

  get remaining(): number {
    return this.end - this.offset;
  }
}
