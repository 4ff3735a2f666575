import type { Readable } from 'node:stream';
import { Mp4ParseError, readBoxHeader } from './box.ts';
import { parseMoof, type FragmentInfo } from './fragment.ts';
import { parseInitSegment, type InitSegmentInfo } from './initSegment.ts';

/** The largest top-level box accepted; a bigger one means a corrupt or hostile stream. */
const MAX_BOX_BYTES = 64 * 1024 * 1024;

export type Fmp4Chunk =
  | { kind: 'init'; data: Buffer; info: InitSegmentInfo }
  | { kind: 'fragment'; data: Buffer; info: FragmentInfo };

/** Yields each complete top-level box of a byte stream, as its own Buffer. */
export async function* readTopLevelBoxes(stream: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<{ type: string; data: Buffer }> {
  let pending = Buffer.alloc(0);
  for await (const chunk of stream) {
    pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
    let offset = 0;
    for (;;) {
      const header = readBoxHeader(pending, offset);
      if (!header) break;
      // A size-0 box would swallow the rest of a live stream: refuse it.
      if (pending.readUInt32BE(offset) === 0) throw new Mp4ParseError(`top-level box ${header.type} has size 0`);
      if (header.end - header.start > MAX_BOX_BYTES) throw new Mp4ParseError(`top-level box ${header.type} larger than ${MAX_BOX_BYTES} bytes`);
      if (header.end > pending.length) break;
      yield { type: header.type, data: pending.subarray(header.start, header.end) };
      offset = header.end;
    }
    pending = offset === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(offset));
  }
  if (pending.length > 0) throw new Mp4ParseError(`stream ended inside a box (${pending.length} bytes left)`);
}

/**
 * Turns a fragmented-MP4 stream (as ffmpeg writes it with `empty_moov+frag_keyframe+cmaf`)
 * into its init segment (ftyp + moov) and then one chunk per fragment (moof + mdat, with any
 * styp/prft/emsg boxes that precede the moof). sidx and mfra are dropped: parts and segments
 * are addressed by URI, not by byte index.
 */
export async function* readFmp4(stream: Readable | AsyncIterable<Buffer>): AsyncGenerator<Fmp4Chunk> {
  let init: InitSegmentInfo | undefined;
  let initBoxes: Buffer[] = [];
  let fragmentBoxes: Buffer[] = [];
  let moof: Buffer | undefined;
  for await (const box of readTopLevelBoxes(stream as AsyncIterable<Buffer>)) {
    if (!init) {
      if (box.type === 'moof') throw new Mp4ParseError('moof before moov');
      initBoxes.push(box.data);
      if (box.type === 'moov') {
        const data = Buffer.concat(initBoxes);
        init = parseInitSegment(data);
        initBoxes = [];
        yield { kind: 'init', data, info: init };
      }
      continue;
    }
    switch (box.type) {
      case 'moof':
        if (moof) throw new Mp4ParseError('moof without mdat');
        moof = box.data;
        fragmentBoxes.push(box.data);
        break;
      case 'mdat': {
        if (!moof) throw new Mp4ParseError('mdat without moof');
        fragmentBoxes.push(box.data);
        const info = parseMoof(moof, init);
        const data = Buffer.concat(fragmentBoxes);
        fragmentBoxes = [];
        moof = undefined;
        yield { kind: 'fragment', data, info };
        break;
      }
      case 'styp':
      case 'prft':
      case 'emsg':
        fragmentBoxes.push(box.data);
        break;
      default:
        // sidx, mfra, free, ftyp/moov repeats: not part of any part or segment.
        break;
    }
  }
}
