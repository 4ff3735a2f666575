import type { Readable } from 'node:stream';
import type { Logger } from '../core/logger.ts';
import type { Storage } from '../storage/Storage.ts';
import { Condition } from './condition.ts';
import { readFmp4 } from './fmp4Reader.ts';
import type { InitSegmentInfo } from './initSegment.ts';
import {
  MEDIA_CACHE_CONTROL,
  MEDIA_CONTENT_TYPE,
  PLAYLIST_CACHE_CONTROL,
  PLAYLIST_CONTENT_TYPE,
  PLAYLIST_NAME,
  type ObjectNames,
} from './names.ts';
import type { Part } from './part.ts';
import { mediaPlaylist, type PlaylistSegment, type RenditionReport } from './playlist.ts';
import type { Segment } from './segment.ts';
import { Segmenter } from './segmenter.ts';
import type { RenditionInfo } from './HlsPackagerTypes.ts';
import { UploadQueue } from './uploadQueue.ts';

export interface RenditionOptions {
  roomId: string;
  name: string;
  info: RenditionInfo;
  names: ObjectNames;
  storage: Storage;
  log: Logger;
  /** Undefined: derived from the input (see `partTargetSec`). */
  partTargetSec: number | undefined;
  segmentTargetSec: number;
  windowSegments: number;
  record: boolean;
  maxPendingSegments: number;
  /** Reports of the other renditions, for EXT-X-RENDITION-REPORT. */
  renditionReports: () => RenditionReport[];
  onInit: () => void;
  onPart: (part: Part) => void;
  onSegment: (segment: Segment) => void;
  onStored: () => void;
  onInputError: (err: Error) => void;
}

/** Where a segment is in its upload. */
interface StoredEntry {
  segment: PlaylistSegment;
  initGeneration: number;
  state: 'pending' | 'stored' | 'gap';
}

const PLAYLIST_VERSION = 6;
/** Parts are listed for segments within this many target durations of the live edge. */
const PART_LISTING_TARGET_DURATIONS = 3;
const EPSILON_SEC = 0.001;

/**
 * One rendition of a room's broadcast: reads its fMP4 input, keeps the live window in memory
 * (init segments, recent segments and parts) for the origin, and uploads init segments,
 * segments and a segment-only playlist to storage in order.
 *
 * Two playlists exist. The live one (`playlist()`) is LL-HLS, built from memory, served by the
 * origin with blocking reload. The stored one is plain HLS over the segments that storage has
 * confirmed, so that it can never name an object that is not there; parts are not uploaded.
 */
export class Rendition {
  readonly name: string;
  readonly info: RenditionInfo;
  /** Woken on every new part, segment, end and close. */
  readonly condition = new Condition();
  init: InitSegmentInfo | undefined;
  ended = false;
  closed = false;
  /** Parts longer than PART-TARGET (the input's fragments are too long). */
  oversizedParts = 0;

  private readonly options: RenditionOptions;
  private readonly segmenter: Segmenter;
  private readonly queue: UploadQueue;
  private readonly inits = new Map<number, Buffer>();
  /** Complete segments kept in memory: the live window and as many again for late readers. */
  private readonly segments: Segment[] = [];
  private readonly parts = new Map<number, Part>();
  private readonly storedEntries: StoredEntry[] = [];
  private input: Readable | undefined;
  private inputToken = 0;
  private generation = -1;
  private maxSegmentDurationSec = 0;
  private storedPlaylistWritten = false;
  private storedPlaylistFirstMsn = 0;
  private deletedBelowMsn = 0;
  private derivedPartTargetSec: number | undefined;

  constructor(options: RenditionOptions) {
    this.options = options;
    this.name = options.name;
    this.info = options.info;
    this.segmenter = new Segmenter({ segmentTargetSec: options.segmentTargetSec });
    this.queue = new UploadQueue({ storage: options.storage, log: options.log, maxPendingSegments: options.maxPendingSegments });
  }

  /** Starts reading a new input stream; a previous one is detached (and destroyed). */
  attach(stream: Readable): void {
    if (this.closed) throw new Error('rendition closed');
    this.detach();
    this.ended = false;
    const token = ++this.inputToken;
    this.input = stream;
    void this.consume(stream, token);
  }

  /** The input is about to be replaced: completes the open segment now. */
  interrupt(): void {
    if (this.closed || this.ended) return;
    this.detach();
    const completed = this.segmenter.flush();
    if (completed) this.publishSegment(completed);
    this.condition.broadcast();
  }

  /** The input is done (end of broadcast): completes the open segment and adds ENDLIST. */
  end(): void {
    if (this.closed || this.ended) return;
    this.detach();
    const completed = this.segmenter.flush();
    if (completed) this.publishSegment(completed);
    this.ended = true;
    this.queueStoredPlaylist();
    this.condition.broadcast();
  }

  /** Waits until every queued upload is stored, or `timeoutMs` passes. */
  flushUploads(timeoutMs: number): Promise<boolean> {
    return this.queue.drain(timeoutMs);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    this.queue.close();
    this.condition.broadcast();
  }

  get uploadsPending(): number {
    return this.queue.pending;
  }

  get uploadFailures(): number {
    return this.queue.failures;
  }

  get droppedUploads(): number {
    return this.queue.dropped;
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

  get nextPartId(): number {
    return this.segmenter.nextPartId;
  }

  /** Has at least one complete segment: the live playlist is playable. */
  get playable(): boolean {
    return this.segments.length > 0;
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

  /** The live LL-HLS media playlist; undefined until PART-TARGET is known. */
  playlist(): string | undefined {
    const partTargetSec = this.partTargetSec;
    if (partTargetSec === undefined) return undefined;
    const names = this.options.names;
    const window = this.segments.slice(-this.options.windowSegments);
    const open = this.segmenter.openSegment;
    const listed = open && !this.ended ? [...window, open] : window;
    const partsFrom = this.partListingStart(listed);
    const models = listed.map((s, i) => this.toPlaylistSegment(s, i >= partsFrom));
    const preloadHint = this.ended || !this.init ? undefined : names.part(this.segmenter.nextPartId);
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
      ended: this.ended,
    });
  }

  /** The stored (segment-only) playlist, or undefined while no segment is stored. */
  storedPlaylist(): { text: string; firstMsn: number } | undefined {
    const ready: StoredEntry[] = [];
    for (const entry of this.storedEntries) {
      if (entry.state === 'pending') break;
      ready.push(entry);
    }
    let entries = ready;
    if (!this.options.record) {
      // Live: every listed object must exist, so start after the last lost segment.
      const lastGap = entries.findLastIndex((e) => e.state === 'gap');
      entries = entries.slice(lastGap + 1).slice(-this.options.windowSegments);
    }
    if (entries.length === 0) return undefined;
    const segments = entries.map((e) => ({ ...e.segment, gap: e.state === 'gap' }));
    const text = mediaPlaylist({
      version: PLAYLIST_VERSION,
      targetDurationSec: this.targetDurationSec,
      playlistType: this.options.record ? 'EVENT' : undefined,
      mediaSequence: segments[0]!.msn,
      segments,
      ended: this.ended && this.storedEntries.every((e) => e.state !== 'pending'),
    });
    return { text, firstMsn: segments[0]!.msn };
  }

  /** Report of this rendition for the others' playlists. */
  report(uriFromSibling: string): RenditionReport | undefined {
    const pos = this.position();
    return pos ? { uri: uriFromSibling, lastMsn: pos.msn, lastPart: pos.part } : undefined;
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

  private toPlaylistSegment(s: Segment, withParts: boolean): PlaylistSegment {
    const names = this.options.names;
    return {
      msn: s.msn,
      uri: names.segment(s.msn),
      durationSec: s.durationSec,
      programDateTime: s.programDateTime,
      discontinuity: s.discontinuity,
      discontinuitySequence: s.discontinuitySequence,
      initUri: names.init(s.initGeneration),
      parts: withParts ? s.parts.map((p) => ({ uri: names.part(p.id), durationSec: p.durationSec, independent: p.independent })) : [],
      complete: s.complete,
    };
  }

  private detach(): void {
    const input = this.input;
    this.input = undefined;
    this.inputToken++;
    if (input && !input.destroyed) input.destroy();
  }

  private async consume(stream: Readable, token: number): Promise<void> {
    try {
      for await (const chunk of readFmp4(stream)) {
        if (token !== this.inputToken) return;
        if (chunk.kind === 'init') this.acceptInit(chunk.data, chunk.info);
        else this.acceptFragment(chunk.data, chunk.info);
      }
    } catch (err) {
      if (token !== this.inputToken) return; // detached on purpose
      const error = err instanceof Error ? err : new Error(String(err));
      this.options.log.error({ rendition: this.name, err: error.message }, 'rendition input failed');
      this.options.onInputError(error);
    }
    if (token !== this.inputToken) return;
    // Input over (ffmpeg exited or failed): close the open segment; a new input starts a
    // discontinuity.
    this.input = undefined;
    const completed = this.segmenter.flush();
    if (completed) this.publishSegment(completed);
    this.condition.broadcast();
  }

  private acceptInit(data: Buffer, info: InitSegmentInfo): void {
    const { generation, completed } = this.segmenter.pushInit(info);
    if (completed) this.publishSegment(completed);
    this.init = info;
    this.generation = generation;
    this.inits.set(generation, data);
    this.queue.enqueue({
      op: 'put',
      kind: 'init',
      key: this.key(this.options.names.init(generation)),
      body: data,
      contentType: MEDIA_CONTENT_TYPE,
      cacheControl: MEDIA_CACHE_CONTROL,
    });
    this.options.onInit();
  }

  private acceptFragment(data: Buffer, info: Parameters<Segmenter['pushFragment']>[1]): void {
    const { part, completed } = this.segmenter.pushFragment(data, info, Date.now());
    if (completed) this.publishSegment(completed);
    if (part) {
      const target = this.partTargetSec;
      if (target !== undefined && part.durationSec > target + EPSILON_SEC) {
        if (this.oversizedParts++ === 0) {
          this.options.log.warn({ rendition: this.name, durationSec: part.durationSec }, 'input fragment longer than PART-TARGET');
        }
      }
      this.parts.set(part.id, part);
      this.options.onPart(part);
    }
    this.condition.broadcast();
  }

  private publishSegment(segment: Segment): void {
    if (this.partTargetSec === undefined) {
      const longest = Math.max(...segment.parts.map((p) => p.durationSec));
      this.derivedPartTargetSec = Math.ceil(longest * 1000 - EPSILON_SEC) / 1000;
    }
    this.segments.push(segment);
    this.maxSegmentDurationSec = Math.max(this.maxSegmentDurationSec, segment.durationSec);
    // Memory: the live window plus as many again, so readers of a slightly old playlist
    // still get their segment from memory.
    while (this.segments.length > 2 * this.options.windowSegments) {
      const old = this.segments.shift()!;
      for (const p of old.parts) this.parts.delete(p.id);
      const used = old.initGeneration === this.generation || this.segments.some((s) => s.initGeneration === old.initGeneration);
      if (!used) this.inits.delete(old.initGeneration);
    }
    const entry: StoredEntry = { segment: this.toPlaylistSegment(segment, false), initGeneration: segment.initGeneration, state: 'pending' };
    this.storedEntries.push(entry);
    this.queue.enqueue({
      op: 'put',
      kind: 'segment',
      key: this.key(this.options.names.segment(segment.msn)),
      body: segment.data!,
      contentType: MEDIA_CONTENT_TYPE,
      cacheControl: MEDIA_CACHE_CONTROL,
      onDone: () => {
        entry.state = 'stored';
      },
      onDrop: () => {
        entry.state = 'gap';
      },
    });
    this.queueStoredPlaylist();
    this.options.onSegment(segment);
  }

  private queueStoredPlaylist(): void {
    let firstMsn: number | undefined;
    this.queue.enqueue({
      op: 'put',
      kind: 'playlist',
      key: this.key(PLAYLIST_NAME),
      body: () => {
        const stored = this.storedPlaylist();
        firstMsn = stored?.firstMsn;
        return stored ? Buffer.from(stored.text) : undefined;
      },
      contentType: PLAYLIST_CONTENT_TYPE,
      cacheControl: PLAYLIST_CACHE_CONTROL,
      onDone: () => {
        if (firstMsn === undefined) return;
        this.storedPlaylistFirstMsn = firstMsn;
        if (!this.storedPlaylistWritten) {
          this.storedPlaylistWritten = true;
          this.options.onStored();
        }
        this.deleteExpired();
      },
    });
  }

  /** True once a stored playlist exists for this rendition. */
  get stored(): boolean {
    return this.storedPlaylistWritten;
  }

  /**
   * Deletes stored segments a full window older than the stored playlist's first one (a
   * reader of an older playlist still finds them), after that playlist is written.
   */
  private deleteExpired(): void {
    if (this.options.record) return;
    const below = this.storedPlaylistFirstMsn - this.options.windowSegments;
    if (below <= this.deletedBelowMsn) return;
    const names = this.options.names;
    while (this.storedEntries.length > 0 && this.storedEntries[0]!.segment.msn < below) {
      const entry = this.storedEntries.shift()!;
      if (entry.state === 'stored') this.queue.enqueue({ op: 'delete', key: this.key(names.segment(entry.segment.msn)) });
      const generation = entry.initGeneration;
      const stillUsed = generation === this.generation || this.storedEntries.some((e) => e.initGeneration === generation);
      if (!stillUsed) this.queue.enqueue({ op: 'delete', key: this.key(names.init(generation)) });
    }
    this.deletedBelowMsn = below;
  }

  private key(file: string): string {
    return `${this.options.roomId}/${this.name}/${file}`;
  }
}

/** PART-HOLD-BACK: three part targets (the spec's minimum), rounded up to the millisecond. */
export function partHoldBack(partTargetSec: number): number {
  return Math.ceil(partTargetSec * 3 * 1000 - 1e-6) / 1000;
}
