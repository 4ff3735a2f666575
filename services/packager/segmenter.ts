import type { FragmentInfo } from './fragment.ts';
import type { InitSegmentInfo } from './initSegment.ts';
import type { Part } from './part.ts';
import type { Segment } from './segment.ts';
import type { HlsResumePoint } from './HlsPackagerTypes.ts';

/** Tolerance for comparing durations that went through timescale division. */
const EPSILON_SEC = 0.001;

export interface SegmenterOptions {
  /** A new segment starts at the first independent part once the open one is this long. */
  segmentTargetSec: number;
  /** Carry on another segmenter's numbering (see HlsResumePoint): the first segment follows it with a discontinuity. */
  resume?: HlsResumePoint;
}

export interface FragmentResult {
  /** The part made of the fragment; undefined when it was dropped (no IDR to start on yet). */
  part?: Part;
  /** The segment the fragment completed, if it started a new one. */
  completed?: Segment;
}

/**
 * Cuts one rendition's fragments into parts and segments. Pure state machine: no I/O, no
 * timers; the rendition feeds it and publishes what it returns. It outlives input streams:
 * after an ffmpeg restart, `pushInit` starts a new init generation and the next segment
 * carries EXT-X-DISCONTINUITY, while sequence numbers keep counting.
 */
export class Segmenter {
  private readonly segmentTargetSec: number;
  private nextMsn = 0;
  private partCounter = 0;
  private generation = -1;
  private init: InitSegmentInfo | undefined;
  private open: Segment | undefined;
  private discontinuityPending = false;
  private discontinuitySequence = 0;
  /** Wall-clock anchor of the current generation: epoch ms of decode time `anchorTicks`. */
  private anchorMs = 0;
  private anchorTicks: number | undefined;
  /** The anchor may still come down: no segment of this generation is complete yet (see pushFragment). */
  private anchorSettling = false;
  /** Decode time of the open segment's first sample, in the reference track's timescale. */
  private openStartTicks = 0;
  /** Fragments dropped because no segment could start on them (they did not begin with an IDR). */
  droppedFragments = 0;

  constructor(options: SegmenterOptions) {
    this.segmentTargetSec = options.segmentTargetSec;
    if (options.resume) {
      this.nextMsn = options.resume.nextMsn;
      this.discontinuitySequence = options.resume.discontinuitySequence;
      this.discontinuityPending = true;
    }
  }

  /** Where this numbering has got to: what a successor needs to carry it on. */
  get numbering(): HlsResumePoint {
    return { nextMsn: this.nextMsn, discontinuitySequence: this.discontinuitySequence };
  }

  /** Media sequence number the next new segment will get. */
  get nextSequenceNumber(): number {
    return this.nextMsn;
  }

  /** Id the next part will get (its URI is the PRELOAD-HINT). */
  get nextPartId(): number {
    return this.partCounter;
  }

  get openSegment(): Segment | undefined {
    return this.open;
  }

  /** Starts a new input (first stream, or one after a restart). Returns its init generation. */
  pushInit(info: InitSegmentInfo): { generation: number; completed?: Segment } {
    const completed = this.flush();
    if (this.generation >= 0) this.discontinuityPending = true;
    this.generation++;
    this.init = info;
    this.anchorTicks = undefined;
    this.anchorSettling = true;
    return { generation: this.generation, completed };
  }

  /** Adds one fragment; `nowMs` is its arrival time (the end of its media, for a live source). */
  pushFragment(data: Buffer, info: FragmentInfo, nowMs: number): FragmentResult {
    const init = this.init;
    if (!init) throw new Error('fragment before init segment');
    const ref = info.tracks.find((t) => t.trackId === init.referenceTrackId);
    const timescale = init.tracks.find((t) => t.trackId === init.referenceTrackId)!.timescale;
    const durationSec = ref ? ref.duration / timescale : 0;
    const independent = ref ? ref.startsWithSync : info.tracks.every((t) => t.startsWithSync);
    const startTicks = ref?.baseMediaDecodeTime ?? 0;
    if (this.anchorTicks === undefined) {
      this.anchorTicks = startTicks;
      this.anchorMs = nowMs - durationSec * 1000;
    } else if (this.anchorSettling) {
      this.settleAnchor(nowMs - ((startTicks - this.anchorTicks) / timescale + durationSec) * 1000, timescale);
    }

    let completed: Segment | undefined;
    if (this.open && independent && this.open.durationSec >= this.segmentTargetSec - EPSILON_SEC) {
      completed = this.complete();
      // From the generation's first complete segment on, dates only follow media time.
      this.anchorSettling = false;
    }
    if (!this.open) {
      if (!independent) {
        this.droppedFragments++;
        return { completed };
      }
      if (this.discontinuityPending) this.discontinuitySequence++;
      this.openStartTicks = startTicks;
      this.open = {
        msn: this.nextMsn++,
        parts: [],
        durationSec: 0,
        programDateTime: this.dateOf(startTicks, timescale),
        discontinuity: this.discontinuityPending,
        discontinuitySequence: this.discontinuitySequence,
        initGeneration: this.generation,
        complete: false,
        dateRanges: [],
      };
      this.discontinuityPending = false;
    }
    const part: Part = { id: this.partCounter++, msn: this.open.msn, index: this.open.parts.length, durationSec, independent, data };
    this.open.parts.push(part);
    this.open.durationSec += durationSec;
    return { part, completed };
  }

  /**
   * ffmpeg's media time is its input's arrival (wall clock, -use_wallclock_as_timestamps) less a
   * constant, and no fragment leaves ffmpeg before its media went in: each fragment's arrival less
   * its end bounds the anchor from above. The first fragments of an input also carry ffmpeg's
   * start-up (encoder set-up, then a backlog), so an anchor taken from the first one alone puts
   * PROGRAM-DATE-TIME ahead of the clock for the whole input (a negative latency readout on a
   * loaded machine). The anchor follows the lowest bound until the generation's first segment is
   * complete. Until then that open segment is the only one of this generation in any playlist,
   * so its date (and its date ranges) move down with it: every playlist version stays contiguous.
   * Afterwards the anchor is fixed: a later correction would be a step inside the timeline, which
   * moves hls.js's mapping of DATERANGEs (tried in a4b70d0, reverted).
   */
  private settleAnchor(boundMs: number, timescale: number): void {
    if (!(boundMs < this.anchorMs)) return;
    this.anchorMs = boundMs;
    const open = this.open;
    if (!open) return;
    const date = this.dateOf(this.openStartTicks, timescale);
    const movedMs = date.getTime() - open.programDateTime.getTime();
    open.programDateTime = date;
    for (const range of open.dateRanges ?? []) range.startDate = new Date(range.startDate.getTime() + movedMs);
  }

  /** PROGRAM-DATE-TIME of decode time `ticks` of the current generation. */
  private dateOf(ticks: number, timescale: number): Date {
    return new Date(Math.round(this.anchorMs + ((ticks - this.anchorTicks!) / timescale) * 1000));
  }

  /** The input ended: completes the open segment, if any. */
  flush(): Segment | undefined {
    return this.open ? this.complete() : undefined;
  }

  private complete(): Segment {
    const segment = this.open!;
    segment.complete = true;
    segment.data = Buffer.concat(segment.parts.map((p) => p.data));
    this.open = undefined;
    return segment;
  }
}
