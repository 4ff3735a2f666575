import type { DateRangeModel, MediaPlaylistModel, PlaylistPart, PlaylistSegment, RenditionReport, VariantModel } from '../../services/packager/playlist.ts';

/**
 * A strict reader of the playlists services/packager/playlist.ts writes, back into its models,
 * for round-trip tests. It knows exactly the tags the writer emits and throws on anything
 * else (an unknown tag or attribute, a header tag twice, a tag out of place), so a test also
 * fails when the writer emits what it should not.
 */

type Attributes = Map<string, string>;

/** `#EXT-X-NAME:value` → ['EXT-X-NAME', 'value']; a URI line → ['URI', line]. */
function splitTag(line: string): [string, string] {
  if (!line.startsWith('#')) return ['URI', line];
  const colon = line.indexOf(':');
  return colon < 0 ? [line.slice(1), ''] : [line.slice(1, colon), line.slice(colon + 1)];
}

/** An attribute list (RFC 8216bis 4.2): NAME=value pairs, quoted strings kept without quotes. */
function parseAttributes(value: string, allowed: string[]): Attributes {
  const attrs: Attributes = new Map();
  const pattern = /([A-Z0-9-]+)=("[^"\r\n]*"|[^",]*)(?:,|$)/y;
  while (pattern.lastIndex < value.length) {
    const m = pattern.exec(value);
    if (!m) throw new Error(`malformed attribute list: ${value}`);
    const [, name, raw] = m as unknown as [string, string, string];
    if (!allowed.includes(name)) throw new Error(`unexpected attribute ${name} in ${value}`);
    if (attrs.has(name)) throw new Error(`attribute ${name} twice in ${value}`);
    attrs.set(name, raw.startsWith('"') ? raw.slice(1, -1) : raw);
  }
  return attrs;
}

function required(attrs: Attributes, name: string): string {
  const value = attrs.get(name);
  if (value === undefined) throw new Error(`missing attribute ${name}`);
  return value;
}

function decimalInteger(value: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`not a decimal integer: ${value}`);
  return Number(value);
}

function decimalFloat(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new Error(`not a decimal float: ${value}`);
  return Number(value);
}

function lines(text: string): string[] {
  if (!text.endsWith('\n')) throw new Error('playlist does not end with a newline');
  const all = text.slice(0, -1).split('\n');
  if (all[0] !== '#EXTM3U') throw new Error('playlist does not start with #EXTM3U');
  return all.slice(1);
}

export const readPart = (value: string): PlaylistPart => {
  const a = parseAttributes(value, ['DURATION', 'URI', 'INDEPENDENT']);
  const independent = a.get('INDEPENDENT');
  if (independent !== undefined && independent !== 'YES') throw new Error(`INDEPENDENT=${independent}`);
  return { uri: required(a, 'URI'), durationSec: decimalFloat(required(a, 'DURATION')), independent: independent === 'YES' };
};

export const readDateRange = (value: string): DateRangeModel => {
  const a = parseAttributes(value, ['ID', 'CLASS', 'START-DATE', 'X-PAYLOAD']);
  const startDate = new Date(required(a, 'START-DATE'));
  if (Number.isNaN(startDate.getTime())) throw new Error(`bad START-DATE in ${value}`);
  const payload = required(a, 'X-PAYLOAD');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) throw new Error(`X-PAYLOAD is not base64: ${payload}`);
  return { id: required(a, 'ID'), classId: required(a, 'CLASS'), startDate, payload };
};

export const readRenditionReport = (value: string): RenditionReport => {
  const a = parseAttributes(value, ['URI', 'LAST-MSN', 'LAST-PART']);
  return { uri: required(a, 'URI'), lastMsn: decimalInteger(required(a, 'LAST-MSN')), lastPart: decimalInteger(required(a, 'LAST-PART')) };
};

export const readStreamInf = (value: string, uri: string): VariantModel => {
  const a = parseAttributes(value, ['BANDWIDTH', 'CODECS', 'RESOLUTION', 'FRAME-RATE']);
  const variant: VariantModel = { uri, bandwidth: decimalInteger(required(a, 'BANDWIDTH')), codecs: required(a, 'CODECS') };
  const resolution = a.get('RESOLUTION');
  if (resolution !== undefined) {
    const m = /^(\d+)x(\d+)$/.exec(resolution);
    if (!m) throw new Error(`RESOLUTION=${resolution}`);
    variant.width = Number(m[1]);
    variant.height = Number(m[2]);
  }
  const frameRate = a.get('FRAME-RATE');
  if (frameRate !== undefined) variant.frameRate = decimalFloat(frameRate);
  return variant;
};

/** The segment being read: what its tags said so far. */
interface SegmentState {
  discontinuity: boolean;
  programDateTime?: Date;
  parts: PlaylistPart[];
  gap: boolean;
  durationSec?: number;
  dateRanges?: DateRangeModel[];
}

/**
 * Reads a media playlist. The open segment (parts only, no EXTINF) comes back with `uri: ''`
 * and the sum of its parts as `durationSec`: the text does not carry more (see `asWritten`).
 */
export function parseMediaPlaylist(text: string): MediaPlaylistModel {
  const header = new Map<string, string>();
  const segments: PlaylistSegment[] = [];
  const reports: RenditionReport[] = [];
  let preloadHintUri: string | undefined;
  let ended = false;
  let trailer = false;
  let initUri: string | undefined;
  let discontinuitySequence = 0;
  let seg: SegmentState | undefined;
  const current = (): SegmentState => (seg ??= { discontinuity: false, parts: [], gap: false });
  const finish = (uri: string, durationSec: number) => {
    const s = seg!;
    if (!s.programDateTime) throw new Error('segment without EXT-X-PROGRAM-DATE-TIME');
    if (initUri === undefined) throw new Error('segment without EXT-X-MAP');
    if (s.discontinuity) discontinuitySequence++;
    const segment: PlaylistSegment = {
      msn: decimalInteger(header.get('EXT-X-MEDIA-SEQUENCE') ?? '') + segments.length,
      uri,
      durationSec,
      programDateTime: s.programDateTime,
      discontinuity: s.discontinuity,
      discontinuitySequence,
      initUri,
      parts: s.parts,
      complete: uri !== '',
    };
    if (s.gap) segment.gap = true;
    if (s.dateRanges) segment.dateRanges = s.dateRanges;
    segments.push(segment);
    seg = undefined;
  };

  for (const line of lines(text)) {
    const [name, value] = splitTag(line);
    const inHeader = segments.length === 0 && seg === undefined && !trailer;
    if (trailer && !['EXT-X-PRELOAD-HINT', 'EXT-X-RENDITION-REPORT', 'EXT-X-ENDLIST'].includes(name)) {
      throw new Error(`${line} after the segments`);
    }
    switch (name) {
      case 'EXT-X-VERSION':
      case 'EXT-X-TARGETDURATION':
      case 'EXT-X-SERVER-CONTROL':
      case 'EXT-X-PART-INF':
      case 'EXT-X-PLAYLIST-TYPE':
      case 'EXT-X-MEDIA-SEQUENCE':
      case 'EXT-X-DISCONTINUITY-SEQUENCE':
        if (!inHeader || header.has(name)) throw new Error(`${name} misplaced or repeated`);
        header.set(name, value);
        if (name === 'EXT-X-DISCONTINUITY-SEQUENCE') discontinuitySequence = decimalInteger(value);
        break;
      case 'EXT-X-DISCONTINUITY':
        current().discontinuity = true;
        break;
      case 'EXT-X-MAP':
        current();
        initUri = required(parseAttributes(value, ['URI']), 'URI');
        break;
      case 'EXT-X-PROGRAM-DATE-TIME':
        current().programDateTime = new Date(value);
        if (Number.isNaN(current().programDateTime!.getTime())) throw new Error(`bad date ${value}`);
        break;
      case 'EXT-X-DATERANGE': {
        const s = current();
        if (!s.programDateTime || s.parts.length > 0) throw new Error('EXT-X-DATERANGE not right after its EXT-X-PROGRAM-DATE-TIME');
        (s.dateRanges ??= []).push(readDateRange(value));
        break;
      }
      case 'EXT-X-PART':
        current().parts.push(readPart(value));
        break;
      case 'EXT-X-GAP':
        current().gap = true;
        break;
      case 'EXTINF':
        if (!value.endsWith(',')) throw new Error(`EXTINF without a comma: ${value}`);
        current().durationSec = decimalFloat(value.slice(0, -1));
        break;
      case 'URI':
        if (seg?.durationSec === undefined) throw new Error(`URI ${line} without EXTINF`);
        finish(line, seg.durationSec);
        break;
      case 'EXT-X-PRELOAD-HINT':
      case 'EXT-X-RENDITION-REPORT':
      case 'EXT-X-ENDLIST':
        if (seg) finish('', seg.parts.reduce((sum, p) => sum + p.durationSec, 0));
        trailer = true;
        if (name === 'EXT-X-ENDLIST') ended = true;
        else if (name === 'EXT-X-RENDITION-REPORT') reports.push(readRenditionReport(value));
        else {
          const a = parseAttributes(value, ['TYPE', 'URI']);
          if (required(a, 'TYPE') !== 'PART' || preloadHintUri !== undefined) throw new Error(`unexpected ${line}`);
          preloadHintUri = required(a, 'URI');
        }
        break;
      default:
        throw new Error(`unexpected line ${line}`);
    }
  }
  if (seg) finish('', seg.parts.reduce((sum, p) => sum + p.durationSec, 0));

  const model: MediaPlaylistModel = {
    version: decimalInteger(header.get('EXT-X-VERSION') ?? ''),
    targetDurationSec: decimalInteger(header.get('EXT-X-TARGETDURATION') ?? ''),
    mediaSequence: decimalInteger(header.get('EXT-X-MEDIA-SEQUENCE') ?? ''),
    segments,
    ended,
  };
  const firstSegment = segments[0];
  if (firstSegment && !header.has('EXT-X-DISCONTINUITY-SEQUENCE')) throw new Error('no EXT-X-DISCONTINUITY-SEQUENCE');
  const serverControl = header.get('EXT-X-SERVER-CONTROL');
  const partInf = header.get('EXT-X-PART-INF');
  if ((serverControl === undefined) !== (partInf === undefined)) throw new Error('EXT-X-SERVER-CONTROL and EXT-X-PART-INF go together');
  if (serverControl !== undefined && partInf !== undefined) {
    const control = parseAttributes(serverControl, ['CAN-BLOCK-RELOAD', 'PART-HOLD-BACK']);
    if (required(control, 'CAN-BLOCK-RELOAD') !== 'YES') throw new Error('CAN-BLOCK-RELOAD is not YES');
    model.lowLatency = {
      partTargetSec: decimalFloat(required(parseAttributes(partInf, ['PART-TARGET']), 'PART-TARGET')),
      partHoldBackSec: decimalFloat(required(control, 'PART-HOLD-BACK')),
      renditionReports: reports,
    };
    if (preloadHintUri !== undefined) model.lowLatency.preloadHintUri = preloadHintUri;
  } else if (reports.length > 0 || preloadHintUri !== undefined) {
    throw new Error('LL-HLS tags without EXT-X-SERVER-CONTROL');
  }
  const type = header.get('EXT-X-PLAYLIST-TYPE');
  if (type !== undefined) {
    if (type !== 'EVENT' && type !== 'VOD') throw new Error(`EXT-X-PLAYLIST-TYPE:${type}`);
    model.playlistType = type;
  }
  return model;
}

/** Reads a multivariant playlist: its variants, in the order listed. */
export function parseMultivariantPlaylist(text: string): { version: number; independentSegments: boolean; variants: VariantModel[] } {
  const result = { version: 0, independentSegments: false, variants: [] as VariantModel[] };
  let streamInf: string | undefined;
  for (const line of lines(text)) {
    const [name, value] = splitTag(line);
    if (streamInf !== undefined && name !== 'URI') throw new Error(`EXT-X-STREAM-INF not followed by its URI: ${line}`);
    if (name === 'EXT-X-VERSION' && result.version === 0) result.version = decimalInteger(value);
    else if (name === 'EXT-X-INDEPENDENT-SEGMENTS' && !result.independentSegments) result.independentSegments = true;
    else if (name === 'EXT-X-STREAM-INF') streamInf = value;
    else if (name === 'URI' && streamInf !== undefined) {
      result.variants.push(readStreamInf(streamInf, line));
      streamInf = undefined;
    } else throw new Error(`unexpected line ${line}`);
  }
  if (streamInf !== undefined) throw new Error('EXT-X-STREAM-INF without a URI');
  return result;
}

/**
 * The part of a model that its text carries: the open segment's URI and EXTINF are not
 * written (it has none yet), and an ended playlist drops PRELOAD-HINT and RENDITION-REPORT.
 */
export function asWritten(m: MediaPlaylistModel): MediaPlaylistModel {
  const out: MediaPlaylistModel = {
    ...m,
    segments: m.segments.map((s) => {
      const copy: PlaylistSegment = { ...s };
      if (!s.gap || !s.complete) delete copy.gap;
      if (!s.dateRanges || s.dateRanges.length === 0) delete copy.dateRanges;
      if (!s.complete) {
        copy.uri = '';
        copy.durationSec = s.parts.reduce((sum, p) => sum + p.durationSec, 0);
      }
      return copy;
    }),
  };
  if (m.playlistType === undefined) delete out.playlistType;
  if (m.lowLatency) {
    const { preloadHintUri, ...rest } = m.lowLatency;
    out.lowLatency = m.ended ? { ...rest, renditionReports: [] } : preloadHintUri === undefined ? rest : { ...rest, preloadHintUri };
  } else delete out.lowLatency;
  return out;
}
