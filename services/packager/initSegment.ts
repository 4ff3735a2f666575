import { childBoxes, Cursor, findChild, findPath, Mp4ParseError, type Box } from './box.ts';

/** One track of an fMP4 init segment, with what the playlists and the segmenter need. */
export interface InitTrack {
  trackId: number;
  kind: 'video' | 'audio' | 'other';
  /** Media timescale (mdhd), ticks per second. */
  timescale: number;
  /** RFC 6381 codec string (`avc1.64001f`, `mp4a.40.2`), or the sample entry type when unknown. */
  codec: string;
  width?: number;
  height?: number;
  /** trex defaults, used when a fragment's tfhd/trun leave them out. */
  defaultSampleDuration: number;
  defaultSampleFlags: number;
}

export interface InitSegmentInfo {
  tracks: InitTrack[];
  /** The track whose fragments set part and segment boundaries: video when present. */
  referenceTrackId: number;
  /** Comma-joined codec strings for the multivariant playlist's CODECS attribute. */
  codecs: string;
}

/** Parses an init segment (ftyp + moov). Throws Mp4ParseError when it is not one. */
export function parseInitSegment(buf: Uint8Array): InitSegmentInfo {
  const top = childBoxes(buf, 0, buf.length);
  const moov = top.find((b) => b.type === 'moov');
  if (!moov) throw new Mp4ParseError('init segment has no moov');
  const children = childBoxes(buf, moov.payloadStart, moov.end);
  const trex = new Map<number, { duration: number; flags: number }>();
  const mvex = children.find((b) => b.type === 'mvex');
  if (mvex) {
    for (const box of childBoxes(buf, mvex.payloadStart, mvex.end)) {
      if (box.type !== 'trex') continue;
      const c = new Cursor(buf, box.payloadStart, box.end);
      c.versionAndFlags();
      const trackId = c.u32();
      c.u32(); // default_sample_description_index
      const duration = c.u32();
      c.u32(); // default_sample_size
      trex.set(trackId, { duration, flags: c.u32() });
    }
  }
  const tracks = children.filter((b) => b.type === 'trak').map((trak) => parseTrak(buf, trak, trex));
  if (tracks.length === 0) throw new Mp4ParseError('init segment has no track');
  const reference = tracks.find((t) => t.kind === 'video') ?? tracks.find((t) => t.kind === 'audio') ?? tracks[0]!;
  return {
    tracks,
    referenceTrackId: reference.trackId,
    codecs: tracks
      .filter((t) => t.kind !== 'other')
      .map((t) => t.codec)
      .join(','),
  };
}

function parseTrak(buf: Uint8Array, trak: Box, trex: Map<number, { duration: number; flags: number }>): InitTrack {
  const tkhd = findChild(buf, trak, 'tkhd');
  const mdhd = findPath(buf, trak, ['mdia', 'mdhd']);
  const hdlr = findPath(buf, trak, ['mdia', 'hdlr']);
  const stsd = findPath(buf, trak, ['mdia', 'minf', 'stbl', 'stsd']);
  if (!tkhd || !mdhd || !hdlr || !stsd) throw new Mp4ParseError('trak lacks tkhd, mdhd, hdlr or stsd');

  const tk = new Cursor(buf, tkhd.payloadStart, tkhd.end);
  const tkVersion = tk.versionAndFlags().version;
  tk.skip(tkVersion === 1 ? 16 : 8); // creation and modification times
  const trackId = tk.u32();

  const md = new Cursor(buf, mdhd.payloadStart, mdhd.end);
  const mdVersion = md.versionAndFlags().version;
  md.skip(mdVersion === 1 ? 16 : 8);
  const timescale = md.u32();
  if (timescale === 0) throw new Mp4ParseError(`track ${trackId} has timescale 0`);

  const hd = new Cursor(buf, hdlr.payloadStart, hdlr.end);
  hd.versionAndFlags();
  hd.u32(); // pre_defined
  const handler = String.fromCharCode(hd.u8(), hd.u8(), hd.u8(), hd.u8());
  const kind = handler === 'vide' ? 'video' : handler === 'soun' ? 'audio' : 'other';

  // stsd is a full box followed by an entry count, then the sample entries.
  const entry = childBoxes(buf, stsd.payloadStart + 8, stsd.end)[0];
  if (!entry) throw new Mp4ParseError(`track ${trackId} has no sample entry`);
  const defaults = trex.get(trackId) ?? { duration: 0, flags: 0 };
  const track: InitTrack = {
    trackId,
    kind,
    timescale,
    codec: entry.type,
    defaultSampleDuration: defaults.duration,
    defaultSampleFlags: defaults.flags,
  };
  if (kind === 'video') describeVisualEntry(buf, entry, track);
  else if (kind === 'audio') describeAudioEntry(buf, entry, track);
  return track;
}

/** VisualSampleEntry: 78 bytes of fixed fields (width and height at 24), then child boxes. */
function describeVisualEntry(buf: Uint8Array, entry: Box, track: InitTrack): void {
  const c = new Cursor(buf, entry.payloadStart + 24, entry.end);
  track.width = c.u16();
  track.height = c.u16();
  const children = childBoxes(buf, entry.payloadStart + 78, entry.end);
  const avcC = children.find((b) => b.type === 'avcC');
  if ((entry.type === 'avc1' || entry.type === 'avc3') && avcC) {
    const a = new Cursor(buf, avcC.payloadStart, avcC.end);
    a.u8(); // configurationVersion
    const hex = [a.u8(), a.u8(), a.u8()].map((v) => v.toString(16).padStart(2, '0')).join('');
    track.codec = `${entry.type}.${hex}`;
  }
}

/** AudioSampleEntry: 28 bytes of fixed fields, then child boxes (esds for AAC). */
function describeAudioEntry(buf: Uint8Array, entry: Box, track: InitTrack): void {
  if (entry.type !== 'mp4a') return;
  const esds = childBoxes(buf, entry.payloadStart + 28, entry.end).find((b) => b.type === 'esds');
  if (!esds) return;
  const c = new Cursor(buf, esds.payloadStart, esds.end);
  c.versionAndFlags();
  if (readDescriptorHeader(c) !== 0x03) return; // ES_Descriptor
  c.u16(); // ES_ID
  const esFlags = c.u8();
  if (esFlags & 0x80) c.u16();
  if (esFlags & 0x40) c.skip(c.u8());
  if (esFlags & 0x20) c.u16();
  if (readDescriptorHeader(c) !== 0x04) return; // DecoderConfigDescriptor
  const objectType = c.u8();
  c.skip(12); // streamType, bufferSizeDB, maxBitrate, avgBitrate
  let codec = `mp4a.${objectType.toString(16)}`;
  if (c.remaining > 0 && readDescriptorHeader(c) === 0x05 && objectType === 0x40) {
    // AudioSpecificConfig: 5 bits of object type, or 31 then 6 more bits (type - 32).
    const first = c.u8();
    let audioObjectType = first >> 3;
    if (audioObjectType === 31) audioObjectType = 32 + (((first & 0x07) << 3) | (c.u8() >> 5));
    codec += `.${audioObjectType}`;
  }
  track.codec = codec;
}

/** Reads an MPEG-4 descriptor tag and its variable-length size; returns the tag. */
function readDescriptorHeader(c: Cursor): number {
  const tag = c.u8();
  for (let i = 0; i < 4; i++) {
    if ((c.u8() & 0x80) === 0) break;
  }
  return tag;
}
