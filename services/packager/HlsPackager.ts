import type { Readable } from 'node:stream';
import { EnhancedEventEmitter } from '../core/EnhancedEventEmitter.ts';
import { InvalidStateError } from '../core/errors.ts';
import { logger, type Logger } from '../core/logger.ts';
import type { Storage } from '../storage/Storage.ts';
import type { HlsPackagerEvents, HlsPackagerOptions, HlsResumePoint, RenditionInfo } from './HlsPackagerTypes.ts';
import { ObjectNames, PLAYLIST_CACHE_CONTROL, PLAYLIST_CONTENT_TYPE, PLAYLIST_NAME } from './names.ts';
import { multivariantPlaylist, type DateRangeModel, type RenditionReport, type VariantModel } from './playlist.ts';
import { isRecordingId, RECORDING_MANIFEST, recordingPrefix, type RecordingInfo } from './recording.ts';
import { Rendition } from './Rendition.ts';
import { UploadQueue } from './uploadQueue.ts';

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** How long end() waits for storage to take the last objects. */
const END_FLUSH_TIMEOUT_MS = 10_000;

/**
 * A room's LL-HLS broadcast output: one Rendition per ABR rung, each fed an fMP4 stream by
 * the transcoder. Serves the origin from memory and mirrors segments to storage.
 *
 *   const packager = new HlsPackager({ roomId, storage });
 *   packager.addRendition('720p', { bandwidth: 3_000_000 }, ffmpeg720.stdout);
 *   // ffmpeg restarted: same name, new stream; the playlist gets EXT-X-DISCONTINUITY.
 *   packager.addRendition('720p', { bandwidth: 3_000_000 }, newFfmpeg720.stdout);
 *   await packager.end();   // ENDLIST
 *   await packager.close();
 */
export class HlsPackager extends EnhancedEventEmitter<HlsPackagerEvents> {
  readonly roomId: string;
  /** Configured PART-TARGET; undefined: each rendition derives it from its input. */
  readonly partTargetSec: number | undefined;
  readonly segmentTargetSec: number;
  readonly windowSegments: number;
  readonly record: boolean;
  /** The recording this broadcast is kept as, if any. */
  readonly recordingId: string | undefined;
  readonly startedAt = new Date();
  private readonly storage: Storage;
  private readonly names: ObjectNames;
  private readonly log: Logger;
  private readonly uploadBufferSegments: number;
  private readonly resume: HlsResumePoint | undefined;
  private readonly renditions = new Map<string, Rendition>();
  private readonly roomQueue: UploadQueue;
  private readyEmitted = false;
  private endedFlag = false;
  private closedFlag = false;

  constructor(options: HlsPackagerOptions) {
    super();
    if (!NAME_PATTERN.test(options.roomId ?? '')) throw new TypeError('roomId must match ^[A-Za-z0-9_-]{1,64}$');
    this.roomId = options.roomId;
    this.storage = options.storage;
    this.partTargetSec = options.partTargetSec;
    this.segmentTargetSec = options.segmentTargetSec ?? 1;
    this.windowSegments = options.windowSegments ?? 6;
    this.record = options.record ?? false;
    this.recordingId = options.recordingId;
    if (this.recordingId !== undefined && !isRecordingId(this.recordingId)) throw new TypeError('recordingId must match ^[0-9a-z]{8,32}$');
    this.uploadBufferSegments = options.uploadBufferSegments ?? 120;
    this.resume = options.resume;
    if (this.resume && !(Number.isSafeInteger(this.resume.nextMsn) && this.resume.nextMsn >= 0 && Number.isSafeInteger(this.resume.discontinuitySequence) && this.resume.discontinuitySequence >= 0)) {
      throw new TypeError('resume needs a non-negative integer nextMsn and discontinuitySequence');
    }
    if (this.partTargetSec !== undefined && !(this.partTargetSec >= 0.1 && this.partTargetSec <= 1)) {
      throw new TypeError('partTargetSec must be within 0.1-1');
    }
    if (!(this.segmentTargetSec >= 1 && this.segmentTargetSec <= 6)) throw new TypeError('segmentTargetSec must be within 1-6');
    if (!Number.isInteger(this.windowSegments) || this.windowSegments < 3) throw new TypeError('windowSegments must be an integer >= 3');
    if (!Number.isInteger(this.uploadBufferSegments) || this.uploadBufferSegments < 1) {
      throw new TypeError('uploadBufferSegments must be a positive integer');
    }
    this.names = new ObjectNames(options.epoch ?? Date.now().toString(36));
    this.log = logger.child({ mod: 'packager', room: this.roomId });
    this.roomQueue = new UploadQueue({ storage: this.storage, log: this.log, maxPendingSegments: 1 });
    if (this.recordingId !== undefined) this.queueRecordingManifest();
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  get ended(): boolean {
    return this.endedFlag;
  }

  /**
   * Adds a rendition fed by `fmp4`, or, for a name already added, replaces its input (after an
   * ffmpeg restart): sequence numbers continue and the next segment carries a discontinuity.
   */
  addRendition(name: string, info: RenditionInfo, fmp4: Readable): void {
    if (this.closedFlag) throw new InvalidStateError('packager closed');
    if (this.endedFlag) throw new InvalidStateError('packager ended');
    if (!NAME_PATTERN.test(name) || name === 'index' || name === 'recordings') throw new TypeError('rendition name must match ^[A-Za-z0-9_-]{1,64}$');
    if (!(info.bandwidth > 0)) throw new TypeError('bandwidth must be positive');
    let rendition = this.renditions.get(name);
    if (!rendition) {
      rendition = this.createRendition(name, info);
      this.renditions.set(name, rendition);
    }
    rendition.attach(fmp4);
  }

  /**
   * Announces that every rendition's input is about to be replaced (the transcoder restarts):
   * open segments are completed now, and the next segments carry EXT-X-DISCONTINUITY.
   */
  discontinuity(): void {
    if (this.closedFlag || this.endedFlag) return;
    for (const r of this.renditions.values()) r.interrupt();
  }

  /** Ends the broadcast: playlists get ENDLIST, then storage is flushed (bounded wait). */
  async end(): Promise<void> {
    if (this.closedFlag || this.endedFlag) return;
    this.endedFlag = true;
    for (const r of this.renditions.values()) r.end();
    this.safeEmit('ended');
    await Promise.all([...this.renditions.values()].map((r) => r.flushUploads(END_FLUSH_TIMEOUT_MS)));
    await this.roomQueue.drain(END_FLUSH_TIMEOUT_MS);
    if (this.recordingId !== undefined && !this.closedFlag) await this.finishRecording();
  }

  /**
   * Attaches timed metadata at the live edge of every rendition (EXT-X-DATERANGE). Returns the
   * START-DATE of the first rendition that had media, or undefined when none has any yet.
   */
  insertDateRange(range: Omit<DateRangeModel, 'startDate'>): Date | undefined {
    if (this.closedFlag || this.endedFlag) return undefined;
    let first: Date | undefined;
    for (const r of this.renditions.values()) {
      const at = r.insertDateRange(range);
      first ??= at;
    }
    return first;
  }

  /** Stops inputs and uploads (queued uploads are dropped) and wakes blocked readers. Idempotent. */
  async close(reason = 'closed'): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const r of this.renditions.values()) r.close();
    this.roomQueue.close();
    this.safeEmit('close', reason);
    this.removeAllListeners();
  }

  rendition(name: string): Rendition | undefined {
    return this.renditions.get(name);
  }

  /**
   * How far the numbering has got, over every rendition (the furthest): what a packager that
   * takes over this room's URL passes as `resume`. Undefined before any rendition.
   */
  numbering(): HlsResumePoint | undefined {
    let out: HlsResumePoint | undefined;
    for (const r of this.renditions.values()) {
      const p = r.numbering();
      out = out ? { nextMsn: Math.max(out.nextMsn, p.nextMsn), discontinuitySequence: Math.max(out.discontinuitySequence, p.discontinuitySequence) } : p;
    }
    return out;
  }

  renditionNames(): string[] {
    return [...this.renditions.keys()];
  }

  /** The live multivariant playlist: renditions whose init segment is known. */
  multivariantPlaylist(): string | undefined {
    // Players read the multivariant playlist once: list the ladder only when every rung can be
    // played, or a viewer who joins early never sees the missing rung.
    const variants = this.variants((r) => r.init !== undefined && r.partTargetSec !== undefined);
    return variants.length > 0 && variants.length === this.renditions.size ? multivariantPlaylist(variants) : undefined;
  }

  /** Storage keys are `<roomId>/index.m3u8` and `<roomId>/<rendition>/<object>`. */
  storageKey(rendition: string | undefined, file: string): string {
    return rendition ? `${this.roomId}/${rendition}/${file}` : `${this.roomId}/${file}`;
  }

  get objectNames(): ObjectNames {
    return this.names;
  }

  private variants(include: (r: Rendition) => boolean): VariantModel[] {
    const out: VariantModel[] = [];
    for (const r of this.renditions.values()) {
      if (!include(r) || !r.init) continue;
      const video = r.init.tracks.find((t) => t.kind === 'video');
      out.push({
        uri: `${r.name}/${PLAYLIST_NAME}`,
        bandwidth: r.info.bandwidth,
        codecs: r.init.codecs,
        width: r.info.width ?? video?.width,
        height: r.info.height ?? video?.height,
        frameRate: r.info.frameRate,
      });
    }
    return out;
  }

  private createRendition(name: string, info: RenditionInfo): Rendition {
    const rendition: Rendition = new Rendition({
      roomId: this.roomId,
      name,
      info,
      names: this.names,
      storage: this.storage,
      log: this.log,
      partTargetSec: this.partTargetSec,
      segmentTargetSec: this.segmentTargetSec,
      ...(this.resume ? { resume: this.resume } : {}),
      windowSegments: this.windowSegments,
      record: this.record,
      ...(this.recordingId !== undefined ? { recordingPrefix: recordingPrefix(this.roomId, this.recordingId) } : {}),
      maxPendingSegments: this.uploadBufferSegments,
      renditionReports: () => this.reportsFor(name),
      onInit: () => undefined,
      onPart: (part) => {
        this.safeEmit('part', name, part);
        // Sibling playlists carry this rendition's report: wake their blocked readers too.
        for (const other of this.renditions.values()) if (other !== rendition) other.condition.broadcast();
      },
      onSegment: (segment) => {
        this.safeEmit('segment', name, segment);
        this.maybeReady();
      },
      onStored: () => this.queueMultivariant(),
      onInputError: (err) => this.safeEmit('inputerror', name, err),
    });
    return rendition;
  }

  private reportsFor(name: string): RenditionReport[] {
    const reports: RenditionReport[] = [];
    for (const r of this.renditions.values()) {
      if (r.name === name) continue;
      const report = r.report(`../${r.name}/${PLAYLIST_NAME}`);
      if (report) reports.push(report);
    }
    return reports;
  }

  private maybeReady(): void {
    if (this.readyEmitted) return;
    for (const r of this.renditions.values()) if (!r.playable) return;
    this.readyEmitted = true;
    this.safeEmit('ready');
  }

  private recordingInfo(state: RecordingInfo['state']): RecordingInfo {
    const info: RecordingInfo = { id: this.recordingId!, roomId: this.roomId, state, startedAt: this.startedAt.toISOString(), durationSec: 0 };
    if (state === 'ready') {
      info.endedAt = new Date().toISOString();
      info.durationSec = Math.round(Math.max(0, ...[...this.renditions.values()].map((r) => r.recordedDurationSec)) * 1000) / 1000;
    }
    return info;
  }

  private queueRecordingManifest(info = this.recordingInfo('recording')): void {
    this.roomQueue.enqueue({
      op: 'put',
      kind: 'playlist',
      key: `${recordingPrefix(this.roomId, this.recordingId!)}/${RECORDING_MANIFEST}`,
      body: () => Buffer.from(JSON.stringify(info)),
      contentType: 'application/json',
      cacheControl: PLAYLIST_CACHE_CONTROL,
    });
  }

  /** After end(): the recording's multivariant playlist, then its manifest says `ready`. */
  private async finishRecording(): Promise<void> {
    const variants = this.variants((r) => r.recordingStored);
    if (variants.length === 0) {
      this.log.warn({ recording: this.recordingId }, 'recording holds no media');
      return;
    }
    this.roomQueue.enqueue({
      op: 'put',
      kind: 'playlist',
      key: `${recordingPrefix(this.roomId, this.recordingId!)}/${PLAYLIST_NAME}`,
      body: Buffer.from(multivariantPlaylist(variants)),
      contentType: PLAYLIST_CONTENT_TYPE,
      cacheControl: PLAYLIST_CACHE_CONTROL,
    });
    const info = this.recordingInfo('ready');
    this.queueRecordingManifest(info);
    if (await this.roomQueue.drain(END_FLUSH_TIMEOUT_MS)) this.safeEmit('recorded', info);
    else this.log.warn({ recording: this.recordingId }, 'recording not finalized in time');
  }

  /** The stored multivariant playlist lists only renditions whose stored playlist exists. */
  private queueMultivariant(): void {
    this.roomQueue.enqueue({
      op: 'put',
      kind: 'playlist',
      key: this.storageKey(undefined, PLAYLIST_NAME),
      body: () => {
        const variants = this.variants((r) => r.stored);
        return variants.length > 0 ? Buffer.from(multivariantPlaylist(variants)) : undefined;
      },
      contentType: PLAYLIST_CONTENT_TYPE,
      cacheControl: PLAYLIST_CACHE_CONTROL,
    });
  }
}
