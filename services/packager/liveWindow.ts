import type { ObjectNames } from './names.ts';
import type { Part } from './part.ts';
import { mediaPlaylist, type RenditionReport } from './playlist.ts';
import { toPlaylistSegment, type Segment } from './segment.ts';
import type { Segmenter } from './segmenter.ts';

export interface LiveWindowOptions {
  names: ObjectNames;
  /** The rendition's segmenter, whose open segment is the live edge. */
  segmenter: Segmenter;
  /** Undefined: derived from the input (see `partTargetSec`). */
  partTargetSec: number | undefined;
  segmentTargetSec: number;
  /** Complete segments listed in the live playlist. */
  windowSegments: number;
  /** Reports of the other renditions, for EXT-X-RENDITION-REPORT. */
  renditionReports: () => RenditionReport[];
}

export const PLAYLIST_VERSION = 6;
/** Parts are listed for segments within this many target durations of the live edge. */
const PART_LISTING_TARGET_DURATIONS = 3;
/** Tolerance for comparing durations that went through timescale division. */
const EPSILON_SEC = 0.001;

/**
 * What the origin serves of one rendition from memory: init segments, recent complete
 * segments and their parts, and the live LL-HLS playlist over them. It keeps the live window
 * and as many segments again, so that readers of a slightly old playlist still find theirs.
 */
export class LiveWindow {
  /** Parts longer than PART-TARGET (the input's fragments are too long). */
  oversizedParts = 0;

  private readonly options: LiveWindowOptions;
  private readonly segmenter: Segmenter;
  private readonly inits = new Map<number, Buffer>();
  private readonly segments: Segment[] = [];
  private readonly parts = new Map<number, Part>();
  private generation = -1;
  private maxSegmentDurationSec = 0;
  private derivedPartTargetSec: number | undefined;

  constructor(options: LiveWindowOptions) {
    this.options = options;
    this.segmenter = options.segmenter;
  }

  /** TARGETDURATION: the segment target rounded up, or more if a segment ran longer. */
  get targetDurationSec(): number {
    return Math.max(Math.ceil(this.options.segmentTargetSec - EPSILON_SEC), Math.round(this.maxSegmentDurationSec));
  }

  /**
   * PART-TARGET. Configured, or derived from the input: the longest part of the first
   * segment, rounded up to the millisecond. Parts must be at most PART-TARGET and (except
   * independent and last ones) at least 85% of it, so it has to match the transcoder's
   * fragment duration. Undefined until known; the live playlist waits for it.
   */
  get partTargetSec(): number | undefined {
    return this.options.partTargetSec ?? this.derivedPartTargetSec;
  }

  /** Has at least one complete segment: the live playlist is playable. */
  get playable(): boolean {
    return this.segments.length > 0;
  }

  /** A new init segment; it is the current generation from now on. */
  addInit(generation: number, data: Buffer): void {
    this.generation = generation;
    this.inits.set(generation, data);
  }

  /** Adds a part of the open segment. True for the first part longer than PART-TARGET (worth a warning). */
  addPart(part: Part): boolean {
    let firstOversized = false;
    const target = this.partTargetSec;
    if (target !== undefined && part.durationSec > target + EPSILON_SEC) firstOversized = this.oversizedParts++ === 0;
    this.parts.set(part.id, part);
    return firstOversized;
  }

  addSegment(segment: Segment): void {
    if (this.partTargetSec === undefined) {
      const longest = Math.max(...segment.parts.map((p) => p.durationSec));
      this.derivedPartTargetSec = Math.ceil(longest * 1000 - EPSILON_SEC) / 1000;
    }
    this.segments.push(segment);
    this.maxSegmentDurationSec = Math.max(this.maxSegmentDurationSec, segment.durationSec);
    while (this.segments.length > 2 * this.options.windowSegments) this.evictOldest();
  }

  /** The newest complete segment. */
  lastSegment(): Segment | undefined {
    return this.segments.at(-1);
  }

  getInit(generation: number): Buffer | undefined {
    return this.inits.get(generation);
  }

  getSegment(msn: number): Buffer | undefined {
    return this.segments.find((s) => s.msn === msn)?.data;
  }

  getPart(id: number): Buffer | undefined {
    return this.parts.get(id)?.data;
  }

  /** The newest part, as (msn, index in its segment); undefined before the first. */
  position(): { msn: number; part: number } | undefined {
    const open = this.segmenter.openSegment;
    if (open && open.parts.length > 0) return { msn: open.msn, part: open.parts.length - 1 };
    const last = this.segments.at(-1);
    return last ? { msn: last.msn, part: last.parts.length - 1 } : undefined;
  }

  /** Media sequence number of the newest complete segment; -1 before the first. */
  lastCompleteMsn(): number {
    return this.segments.at(-1)?.msn ?? -1;
  }

  /** EXT-X-MEDIA-SEQUENCE of the live playlist: the oldest segment it lists. */
  mediaSequence(ended: boolean): number {
    return this.listed(ended)[0]?.msn ?? this.segmenter.nextSequenceNumber;
  }

  /**
   * The live LL-HLS media playlist; undefined until PART-TARGET is known. `initKnown`: an init
   * segment arrived, so the next part can be announced (PRELOAD-HINT).
   */
  playlist(ended: boolean, initKnown: boolean): string | undefined {
    const partTargetSec = this.partTargetSec;
    if (partTargetSec === undefined) return undefined;
    const names = this.options.names;
    const listed = this.listed(ended);
    const partsFrom = this.partListingStart(listed);
    const models = listed.map((s, i) => toPlaylistSegment(s, names, i >= partsFrom));
    const preloadHint = ended || !initKnown ? undefined : names.part(this.segmenter.nextPartId);
    return mediaPlaylist({
      version: PLAYLIST_VERSION,
      targetDurationSec: this.targetDurationSec,
      lowLatency: {
        partTargetSec,
        partHoldBackSec: partHoldBack(partTargetSec),
        preloadHintUri: preloadHint,
        renditionReports: this.options.renditionReports(),
      },
      mediaSequence: listed[0]?.msn ?? this.segmenter.nextSequenceNumber,
      segments: models,
      ended,
    });
  }

  /** The segments the live playlist lists: the window, and the open segment unless ended. */
  private listed(ended: boolean): Segment[] {
    const window = this.segments.slice(-this.options.windowSegments);
    const open = this.segmenter.openSegment;
    return open && !ended ? [...window, open] : window;
  }

  private partListingStart(listed: Segment[]): number {
    const horizon = PART_LISTING_TARGET_DURATIONS * this.targetDurationSec;
    let covered = 0;
    let start = listed.length;
    for (let i = listed.length - 1; i >= 0; i--) {
      if (covered >= horizon) break;
      start = i;
      covered += listed[i]!.durationSec;
    }
    // Never more than the last three segments (the open one included): what validators
    // take "three target durations from the end" to mean.
    return Math.max(start, listed.length - PART_LISTING_TARGET_DURATIONS);
  }

  private evictOldest(): void {
    const old = this.segments.shift()!;
    for (const p of old.parts) this.parts.delete(p.id);
    const used = old.initGeneration === this.generation || this.segments.some((s) => s.initGeneration === old.initGeneration);
    if (!used) this.inits.delete(old.initGeneration);
  }
}

/** PART-HOLD-BACK: three part targets (the spec's minimum), rounded up to the millisecond. */
export function partHoldBack(partTargetSec: number): number {
  return Math.ceil(partTargetSec * 3 * 1000 - 1e-6) / 1000;
}
