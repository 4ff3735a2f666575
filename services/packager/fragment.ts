import { childBoxes, Cursor, findChild, Mp4ParseError } from './box.ts';
import type { InitSegmentInfo } from './initSegment.ts';

/** What one moof says about one track's samples. */
export interface FragmentTrack {
  trackId: number;
  /** tfdt baseMediaDecodeTime, in the track's timescale. */
  baseMediaDecodeTime: number;
  /** Sum of the sample durations, in the track's timescale. */
  duration: number;
  sampleCount: number;
  /** True when the first sample is a sync sample (an IDR for H.264). */
  startsWithSync: boolean;
}

export interface FragmentInfo {
  sequenceNumber: number;
  tracks: FragmentTrack[];
}

const TFHD_BASE_DATA_OFFSET = 0x1;
const TFHD_SAMPLE_DESCRIPTION_INDEX = 0x2;
const TFHD_DEFAULT_SAMPLE_DURATION = 0x8;
const TFHD_DEFAULT_SAMPLE_SIZE = 0x10;
const TFHD_DEFAULT_SAMPLE_FLAGS = 0x20;

const TRUN_DATA_OFFSET = 0x1;
const TRUN_FIRST_SAMPLE_FLAGS = 0x4;
const TRUN_SAMPLE_DURATION = 0x100;
const TRUN_SAMPLE_SIZE = 0x200;
const TRUN_SAMPLE_FLAGS = 0x400;
const TRUN_SAMPLE_CTS = 0x800;

/** sample_is_non_sync_sample bit of the ISO BMFF sample flags. */
const SAMPLE_IS_NON_SYNC = 0x10000;

/**
 * Parses a moof box (the whole box, from its size field). Sample durations and flags fall back
 * from trun to tfhd to the init segment's trex defaults, as ISO/IEC 14496-12 prescribes.
 */
export function parseMoof(buf: Uint8Array, init: InitSegmentInfo): FragmentInfo {
  const [moof] = childBoxes(buf, 0, buf.length);
  if (!moof || moof.type !== 'moof') throw new Mp4ParseError('not a moof');
  let sequenceNumber = 0;
  const tracks: FragmentTrack[] = [];
  for (const box of childBoxes(buf, moof.payloadStart, moof.end)) {
    if (box.type === 'mfhd') {
      const c = new Cursor(buf, box.payloadStart, box.end);
      c.versionAndFlags();
      sequenceNumber = c.u32();
      continue;
    }
    if (box.type !== 'traf') continue;
    const tfhd = findChild(buf, box, 'tfhd');
    if (!tfhd) throw new Mp4ParseError('traf without tfhd');
    const h = new Cursor(buf, tfhd.payloadStart, tfhd.end);
    const tfhdFlags = h.versionAndFlags().flags;
    const trackId = h.u32();
    const initTrack = init.tracks.find((t) => t.trackId === trackId);
    if (!initTrack) throw new Mp4ParseError(`fragment for unknown track ${trackId}`);
    if (tfhdFlags & TFHD_BASE_DATA_OFFSET) h.u64();
    if (tfhdFlags & TFHD_SAMPLE_DESCRIPTION_INDEX) h.u32();
    const defaultDuration = tfhdFlags & TFHD_DEFAULT_SAMPLE_DURATION ? h.u32() : initTrack.defaultSampleDuration;
    if (tfhdFlags & TFHD_DEFAULT_SAMPLE_SIZE) h.u32();
    const defaultFlags = tfhdFlags & TFHD_DEFAULT_SAMPLE_FLAGS ? h.u32() : initTrack.defaultSampleFlags;

    let baseMediaDecodeTime = 0;
    let duration = 0;
    let sampleCount = 0;
    let firstFlags: number | undefined;
    for (const child of childBoxes(buf, box.payloadStart, box.end)) {
      if (child.type === 'tfdt') {
        const c = new Cursor(buf, child.payloadStart, child.end);
        baseMediaDecodeTime = c.versionAndFlags().version === 1 ? c.u64() : c.u32();
      } else if (child.type === 'trun') {
        const c = new Cursor(buf, child.payloadStart, child.end);
        const flags = c.versionAndFlags().flags;
        const count = c.u32();
        if (flags & TRUN_DATA_OFFSET) c.i32();
        const firstSampleFlags = flags & TRUN_FIRST_SAMPLE_FLAGS ? c.u32() : undefined;
        for (let i = 0; i < count; i++) {
          duration += flags & TRUN_SAMPLE_DURATION ? c.u32() : defaultDuration;
          if (flags & TRUN_SAMPLE_SIZE) c.u32();
          const sampleFlags = flags & TRUN_SAMPLE_FLAGS ? c.u32() : defaultFlags;
          if (flags & TRUN_SAMPLE_CTS) c.u32();
          if (sampleCount === 0 && i === 0) firstFlags = firstSampleFlags ?? sampleFlags;
        }
        sampleCount += count;
      }
    }
    tracks.push({
      trackId,
      baseMediaDecodeTime,
      duration,
      sampleCount,
      startsWithSync: sampleCount > 0 && ((firstFlags ?? defaultFlags) & SAMPLE_IS_NON_SYNC) === 0,
    });
  }
  return { sequenceNumber, tracks };
}
