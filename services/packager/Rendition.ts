import type { Readable } from 'node:stream';
import type { Logger } from '../core/logger.ts';
import type { Storage } from '../storage/Storage.ts';
import { Condition } from './condition.ts';
import type { FragmentInfo } from './fragment.ts';
import type { HlsResumePoint, RenditionInfo } from './HlsPackagerTypes.ts';
import { Ingest } from './ingest.ts';
import type { InitSegmentInfo } from './initSegment.ts';
import { LiveWindow, PLAYLIST_VERSION } from './liveWindow.ts';
import type { ObjectNames } from './names.ts';
import type { Part } from './part.ts';
import type { DateRangeModel, RenditionReport } from './playlist.ts';
import type { Segment } from './segment.ts';
import { Segmenter } from './segmenter.ts';
import { StorageMirror } from './storageMirror.ts';

/** Segments a recording holds while storage is failing. */
const RECORDING_PENDING_SEGMENTS = 3600;

export interface RenditionOptions {
  roomId: string;
  name: string;
  info: RenditionInfo;
  names: ObjectNames;
  storage: Storage;
  log: Logger;
  /** Undefined: derived from the input (see `LiveWindow.partTargetSec`). */
  partTargetSec: number | undefined;
  segmentTargetSec: number;
  /** Carry on an earlier packager's numbering (HlsPackagerOptions.resume). */
  resume?: HlsResumePoint;
  windowSegments: number;
  record: boolean;
  /** Also keep every segment under this key prefix, as a VOD recording (see recording.ts). Absent: no recording. */
  recordingPrefix?: string;
  maxPendingSegments: number;
  /** Reports of the other renditions, for EXT-X-RENDITION-REPORT. */
  renditionReports: () => RenditionReport[];
  onInit: () => void;
  onPart: (part: Part) => void;
  onSegment: (segment: Segment) => void;
  onStored: () => void;
  onInputError: (err: Error) => void;
}

/**
 * One rendition of a room's broadcast. Wires its parts together: the input (`Ingest`) feeds
 * the `Segmenter`; what it cuts goes to the `LiveWindow` (memory and the live LL-HLS playlist,
 * served by the origin with blocking reload) and to the `StorageMirror` (uploads, the stored
 * segment-only playlist, expiry of old objects).
 */
export class Rendition {
  readonly name: string;
  readonly info: RenditionInfo;
  /** Woken on every new init, part, segment, end and close, and on a sibling's new part. */
  readonly condition = new Condition();
  init: InitSegmentInfo | undefined;
  ended = false;
  closed = false;

  private readonly options: RenditionOptions;
  private readonly segmenter: Segmenter;
  private readonly ingest: Ingest;
  private readonly window: LiveWindow;
  private readonly mirror: StorageMirror;
  /** The recording's copy: every segment, a VOD playlist at the end. */
  private readonly recording: StorageMirror | undefined;

  constructor(options: RenditionOptions) {
    this.options = options;
    this.name = options.name;
    this.info = options.info;
    this.segmenter = new Segmenter({ segmentTargetSec: options.segmentTargetSec, ...(options.resume ? { resume: options.resume } : {}) });
    this.ingest = new Ingest({
      onInit: (data, info) => this.acceptInit(data, info),
      onFragment: (data, info) => this.acceptFragment(data, info),
      // ffmpeg exited or failed: close the open segment; a new input starts a discontinuity.
      onInputOver: () => this.completeOpenSegment(),
      onInputError: (err) => {
        options.log.error({ rendition: this.name, err: err.message }, 'rendition input failed');
        options.onInputError(err);
      },
    });
    this.window = new LiveWindow({
      names: options.names,
      segmenter: this.segmenter,
      partTargetSec: options.partTargetSec,
      segmentTargetSec: options.segmentTargetSec,
      windowSegments: options.windowSegments,
      renditionReports: options.renditionReports,
    });
    this.mirror = new StorageMirror({
      keyPrefix: `${options.roomId}/${options.name}`,
      names: options.names,
      storage: options.storage,
      log: options.log,
      windowSegments: options.windowSegments,
      record: options.record,
      maxPendingSegments: options.maxPendingSegments,
      version: PLAYLIST_VERSION,
      targetDurationSec: () => this.window.targetDurationSec,
      ended: () => this.ended,
      onStored: options.onStored,
    });
    if (options.recordingPrefix !== undefined) {
      this.recording = new StorageMirror({
        keyPrefix: `${options.recordingPrefix}/${options.name}`,
        names: options.names,
        storage: options.storage,
        log: options.log,
        windowSegments: options.windowSegments,
        record: true,
        // A recording is worth more memory than the live copy: it holds an hour of 1 s
        // segments through a storage outage before it drops (and lists an EXT-X-GAP).
        maxPendingSegments: Math.max(options.maxPendingSegments, RECORDING_PENDING_SEGMENTS),
        version: PLAYLIST_VERSION,
        targetDurationSec: () => this.window.targetDurationSec,
        ended: () => this.ended,
        onStored: () => {},
      });
    }
  }

  /** Starts reading a new input stream; a previous one is detached (and destroyed). */
  /** How far this rendition's numbering has got, for a successor packager (HlsPackager.position). */
  numbering(): HlsResumePoint {
    return this.segmenter.numbering;
  }

  attach(stream: Readable): void {
    if (this.closed) throw new Error('rendition closed');
    this.ended = false;
    this.ingest.attach(stream);
  }

  /** The input is about to be replaced: completes the open segment now. */
  interrupt(): void {
    if (this.closed || this.ended) return;
    this.ingest.detach();
    this.completeOpenSegment();
  }

  /** The input is done (end of broadcast): completes the open segment and adds ENDLIST. */
  end(): void {
    if (this.closed || this.ended) return;
    this.ingest.detach();
    const completed = this.segmenter.flush();
    if (completed) this.publishSegment(completed);
    this.ended = true;
    this.mirror.putPlaylist();
    this.recording?.putPlaylist();
    this.condition.broadcast();
  }

  /** Waits until every queued upload is stored, or `timeoutMs` passes. */
  async flushUploads(timeoutMs: number): Promise<boolean> {
    const drained = await Promise.all([this.mirror.uploads.drain(timeoutMs), this.recording?.uploads.drain(timeoutMs) ?? true]);
    return drained.every(Boolean);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ingest.detach();
    this.mirror.close();
    this.recording?.close();
    this.condition.broadcast();
  }

  /** True once the recording's playlist is stored (false without a recording). */
  get recordingStored(): boolean {
    return this.recording?.stored ?? false;
  }

  /** Seconds of media the recording holds in storage. */
  get recordedDurationSec(): number {
    return this.recording?.storedDurationSec ?? 0;
  }

  /**
   * Attaches timed metadata at this rendition's live edge: the end of its newest part, that is
   * the first frame of the next one. Its START-DATE is on the PROGRAM-DATE-TIME timeline of the
   * segment it is listed in, so players map it to exactly that media time. Returns the date, or
   * undefined when the rendition has no media yet.
   */
  insertDateRange(range: Omit<DateRangeModel, 'startDate'>): Date | undefined {
    if (this.closed || this.ended) return undefined;
    const segment = this.segmenter.openSegment ?? this.window.lastSegment();
    if (!segment) return undefined;
    const startDate = new Date(segment.programDateTime.getTime() + Math.round(segment.durationSec * 1000));
    (segment.dateRanges ??= []).push({ ...range, startDate });
    // A complete segment's stored playlists list it from their next write; the live one now.
    this.condition.broadcast();
    return startDate;
  }

  get uploadsPending(): number {
    return this.mirror.uploads.pending;
  }

  get uploadFailures(): number {
    return this.mirror.uploads.failures;
  }

  get droppedUploads(): number {
    return this.mirror.uploads.dropped;
  }

  /** Parts longer than PART-TARGET (the input's fragments are too long). */
  get oversizedParts(): number {
    return this.window.oversizedParts;
  }

  /** TARGETDURATION: the segment target rounded up, or more if a segment ran longer. */
  get targetDurationSec(): number {
    return this.window.targetDurationSec;
  }

  /** PART-TARGET, configured or derived from the input; undefined until known. */
  get partTargetSec(): number | undefined {
    return this.window.partTargetSec;
  }

  /** The newest part, as (msn, index in its segment); undefined before the first. */
  position(): { msn: number; part: number } | undefined {
    return this.window.position();
  }

  /** Media sequence number of the newest complete segment; -1 before the first. */
  lastCompleteMsn(): number {
    return this.window.lastCompleteMsn();
  }

  /** EXT-X-MEDIA-SEQUENCE of the live playlist: the oldest segment it lists. */
  mediaSequence(): number {
    return this.window.mediaSequence(this.ended);
  }

  get nextPartId(): number {
    return this.segmenter.nextPartId;
  }

  /** Has at least one complete segment: the live playlist is playable. */
  get playable(): boolean {
    return this.window.playable;
  }

  /** True once a stored playlist exists for this rendition. */
  get stored(): boolean {
    return this.mirror.stored;
  }

  getInit(generation: number): Buffer | undefined {
    return this.window.getInit(generation);
  }

  getSegment(msn: number): Buffer | undefined {
    return this.window.getSegment(msn);
  }

  getPart(id: number): Buffer | undefined {
    return this.window.getPart(id);
  }

  /**
   * Changes whenever the live playlist may have: every broadcast of `condition`. The same
   * revision of the same packager always renders the same playlist.
   */
  get revision(): number {
    return this.condition.revision;
  }

  /** The live LL-HLS media playlist; undefined until PART-TARGET is known. */
  playlist(): string | undefined {
    return this.window.playlist(this.ended, this.init !== undefined);
  }

  /** The stored (segment-only) playlist, or undefined while no segment is stored. */
  storedPlaylist(): { text: string; firstMsn: number } | undefined {
    return this.mirror.playlist();
  }

  /** Report of this rendition for the others' playlists. */
  report(uriFromSibling: string): RenditionReport | undefined {
    const pos = this.position();
    return pos ? { uri: uriFromSibling, lastMsn: pos.msn, lastPart: pos.part } : undefined;
  }

  private completeOpenSegment(): void {
    const completed = this.segmenter.flush();
    if (completed) this.publishSegment(completed);
    this.condition.broadcast();
  }

  private acceptInit(data: Buffer, info: InitSegmentInfo): void {
    const { generation, completed } = this.segmenter.pushInit(info);
    if (completed) this.publishSegment(completed);
    this.init = info;
    this.window.addInit(generation, data);
    this.mirror.putInit(generation, data);
    this.recording?.putInit(generation, data);
    this.options.onInit();
    // The playlist changed (a completed segment, the PRELOAD-HINT): readers keyed on revision see it.
    this.condition.broadcast();
  }

  private acceptFragment(data: Buffer, info: FragmentInfo): void {
    const { part, completed } = this.segmenter.pushFragment(data, info, Date.now());
    if (completed) this.publishSegment(completed);
    if (part) {
      if (this.window.addPart(part)) {
        this.options.log.warn({ rendition: this.name, durationSec: part.durationSec }, 'input fragment longer than PART-TARGET');
      }
      this.options.onPart(part);
    }
    this.condition.broadcast();
  }

  private publishSegment(segment: Segment): void {
    this.window.addSegment(segment);
    this.mirror.putSegment(segment);
    this.recording?.putSegment(segment);
    this.options.onSegment(segment);
  }
}
