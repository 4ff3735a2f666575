import type { Logger } from '../core/logger.ts';
import type { Storage } from '../storage/Storage.ts';
import { Expiry } from './expiry.ts';
import { MEDIA_CACHE_CONTROL, MEDIA_CONTENT_TYPE, PLAYLIST_CACHE_CONTROL, PLAYLIST_CONTENT_TYPE, PLAYLIST_NAME, type ObjectNames } from './names.ts';
import { mediaPlaylist, type PlaylistSegment } from './playlist.ts';
import { toPlaylistSegment, type Segment } from './segment.ts';
import { UploadQueue } from './uploadQueue.ts';

export interface StorageMirrorOptions {
  /** Key prefix of this rendition's objects, e.g. `room/720p` (live) or `room/recordings/<id>/720p`. */
  keyPrefix: string;
  names: ObjectNames;
  storage: Storage;
  log: Logger;
  /** Live: the stored playlist lists this many segments, and older objects expire. */
  windowSegments: number;
  /** Keep every segment, with an EVENT playlist that becomes VOD once ended and settled. */
  record: boolean;
  maxPendingSegments: number;
  /** The playlist version and TARGETDURATION, shared with the live playlist. */
  version: number;
  targetDurationSec: () => number;
  /** The input is done: the stored playlist gets ENDLIST once every segment is settled. */
  ended: () => boolean;
  /** The first stored playlist was written. */
  onStored: () => void;
}

/** Where a segment is in its upload. */
export interface StoredEntry {
  segment: PlaylistSegment;
  initGeneration: number;
  state: 'pending' | 'stored' | 'gap';
}

/**
 * One rendition's copy in storage: init segments, segments and a segment-only playlist,
 * uploaded in order. The stored playlist is plain HLS over the segments that storage has
 * confirmed, so that it can never name an object that is not there; parts are not uploaded.
 */
export class StorageMirror {
  /** The uploads, strictly in order; its counters are the rendition's upload statistics. */
  readonly uploads: UploadQueue;
  private readonly options: StorageMirrorOptions;
  private readonly expiry: Expiry;
  private readonly entries: StoredEntry[] = [];
  private generation = -1;
  private playlistWritten = false;
  private playlistFirstMsn = 0;

  constructor(options: StorageMirrorOptions) {
    this.options = options;
    this.uploads = new UploadQueue({ storage: options.storage, log: options.log, maxPendingSegments: options.maxPendingSegments });
    this.expiry = new Expiry(options.windowSegments, options.names);
  }

  /** True once a stored playlist exists for this rendition. */
  get stored(): boolean {
    return this.playlistWritten;
  }

  /** Drops what is queued. */
  close(): void {
    this.uploads.close();
  }

  putInit(generation: number, data: Buffer): void {
    this.generation = generation;
    this.put('init', this.options.names.init(generation), data);
  }

  /** Uploads a complete segment, then a playlist that lists it. */
  putSegment(segment: Segment): void {
    const entry: StoredEntry = {
      segment: toPlaylistSegment(segment, this.options.names, false),
      initGeneration: segment.initGeneration,
      state: 'pending',
    };
    this.entries.push(entry);
    this.put('segment', this.options.names.segment(segment.msn), segment.data!, {
      onDone: () => {
        entry.state = 'stored';
      },
      onDrop: () => {
        entry.state = 'gap';
      },
    });
    this.putPlaylist();
  }

  /** Queues a playlist write; its text is made when the upload starts. */
  putPlaylist(): void {
    let firstMsn: number | undefined;
    this.uploads.enqueue({
      op: 'put',
      kind: 'playlist',
      key: this.key(PLAYLIST_NAME),
      body: () => {
        const stored = this.playlist();
        firstMsn = stored?.firstMsn;
        return stored ? Buffer.from(stored.text) : undefined;
      },
      contentType: PLAYLIST_CONTENT_TYPE,
      cacheControl: PLAYLIST_CACHE_CONTROL,
      onDone: () => {
        if (firstMsn === undefined) return;
        this.playlistFirstMsn = firstMsn;
        if (!this.playlistWritten) {
          this.playlistWritten = true;
          this.options.onStored();
        }
        this.deleteExpired();
      },
    });
  }

  /** Seconds of media stored (gaps excluded). */
  get storedDurationSec(): number {
    let sum = 0;
    for (const e of this.entries) if (e.state === 'stored') sum += e.segment.durationSec;
    return sum;
  }

  /** The stored (segment-only) playlist, or undefined while no segment is stored. */
  playlist(): { text: string; firstMsn: number } | undefined {
    const ready: StoredEntry[] = [];
    for (const entry of this.entries) {
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
    const ended = this.options.ended() && this.entries.every((e) => e.state !== 'pending');
    const text = mediaPlaylist({
      version: this.options.version,
      targetDurationSec: this.options.targetDurationSec(),
      playlistType: this.options.record ? (ended ? 'VOD' : 'EVENT') : undefined,
      mediaSequence: segments[0]!.msn,
      segments,
      ended,
    });
    return { text, firstMsn: segments[0]!.msn };
  }

  private deleteExpired(): void {
    if (this.options.record) return;
    for (const file of this.expiry.expire(this.entries, this.playlistFirstMsn, this.generation)) {
      this.uploads.enqueue({ op: 'delete', key: this.key(file) });
    }
  }

  private put(kind: 'init' | 'segment', file: string, body: Buffer, callbacks: { onDone?: () => void; onDrop?: () => void } = {}): void {
    this.uploads.enqueue({
      op: 'put',
      kind,
      key: this.key(file),
      body,
      contentType: MEDIA_CONTENT_TYPE,
      cacheControl: MEDIA_CACHE_CONTROL,
      ...callbacks,
    });
  }

  private key(file: string): string {
    return `${this.options.keyPrefix}/${file}`;
  }
}
