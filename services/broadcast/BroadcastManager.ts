import { EnhancedEventEmitter } from '../core/EnhancedEventEmitter.ts';
import { InvalidStateError } from '../core/errors.ts';
import { logger } from '../core/logger.ts';
import type { MediaEngine, StageTrack } from '../engine/EngineTypes.ts';
import type { HlsPackager, HlsResumePoint } from '../packager/index.ts';
import { newRecordingId, type RecordingInfo } from '../packager/recording.ts';
import type { Storage } from '../storage/Storage.ts';
import type { RenditionBitrate } from './BitrateMeter.ts';
import { BroadcastController, type BroadcastLayout, type BroadcastStopReason } from './BroadcastController.ts';
import { MirrorPortAllocator } from './mirrorPorts.ts';
import type { X264Preset } from '../core/config.ts';
import type { StageDirectory, StageFeed } from './StageFeed.ts';
import { insertMetadata, type TimedMetadata } from './timedMetadata.ts';

const log = logger.child({ mod: 'broadcast' });

/** The service's values come from config (BROADCAST_AUTO_START, RECORD, FFMPEG_PATH, BROADCAST_X264_PRESET, MIRROR_PORT_RANGE). */
export interface BroadcastManagerOptions {
  engine: MediaEngine;
  storage: Storage;
  /** The stages to broadcast: each new one is followed through its observer. */
  stages: StageDirectory;
  /** Start a room's broadcast when its stage gets its first track. */
  autoStart: boolean;
  /** Keep each broadcast as a VOD recording, for rooms whose own setting (`setRecording`) says nothing. */
  record: boolean;
  /** ffmpeg binary. Absent: `ffmpeg` on the PATH. */
  ffmpegPath?: string;
  /** libx264 preset. Absent: BROADCAST_X264_PRESET's default. */
  x264Preset?: X264Preset;
  /** UDP ports for the RTP mirror, "min-max" pairs. */
  mirrorPortRange: [number, number];
  /**
   * Where each room's HLS numbering is kept while it is live, so that the node that takes a room
   * over after its node died carries the numbering on (cluster: Redis). Absent: every broadcast
   * numbers from 0, as a node alone does.
   */
  hlsPositions?: HlsPositionStore;
}

/** Each room's HLS numbering, kept outside the node (see BroadcastManagerOptions.hlsPositions). */
export interface HlsPositionStore {
  /** The numbering the room's last broadcast left, if any; a failure reads as none. */
  load(roomId: string): Promise<HlsResumePoint | undefined>;
  /** Records how far the room's live broadcast has got. Best effort: it must not throw. */
  save(roomId: string, point: HlsResumePoint): void;
}

export interface BroadcastStatus {
  roomId: string;
  state: 'live' | 'ended';
  startedAt: string;
  tracks: number;
  ffmpegRestarts: number;
  /** The recording this broadcast is kept as, if any. */
  recordingId?: string;
  /** The HLS program is (or was, once ended) playable: every rendition had a segment. */
  ready: boolean;
  /** ffmpeg exits nobody asked for (crashes and stall kills), part of the restarts. */
  ffmpegCrashes: number;
  /** `presentation` while a screen is shared (the screen large, cameras beside it), else `grid`. */
  layout: BroadcastLayout;
  /** Output bitrate of each rendition over the last 5 s of parts, bits/s. */
  renditions: RenditionBitrate[];
  /** How long ago the packager published its last part, ms; null before the first. Grows when the program stalls. */
  lastPartAgeMs: number | null;
}

/** Internal events, for webhooks later: they carry the room id and nothing else is promised. */
export type BroadcastManagerEvents = {
  broadcaststarted: [roomId: string];
  broadcastready: [roomId: string];
  broadcaststopped: [roomId: string, reason: BroadcastStopReason];
  /** A broadcast's recording is complete in storage (VOD playlists, manifest `ready`). */
  recordingready: [roomId: string, info: RecordingInfo];
  /** Timed metadata was inserted into a live broadcast. */
  metadata: [roomId: string, item: TimedMetadata];
};

/**
 * Every room's broadcast on this node. It follows every stage of its StageDirectory through
 * the stage's observer, starts a broadcast when a stage gets its first track (when autoStart)
 * and on request, and reads the live tracks from the stage itself. An ended broadcast's
 * packager stays until the next one starts, so its final (ENDLIST) playlists keep being served.
 */
export class BroadcastManager extends EnhancedEventEmitter<BroadcastManagerEvents> {
  private readonly opts: BroadcastManagerOptions;
  private readonly ports: MirrorPortAllocator;
  private readonly broadcasts = new Map<string, BroadcastController>();
  /** Rooms' own recording setting, over `record`; forgotten when the stage closes. */
  private readonly recordSettings = new Map<string, boolean>();
  /** Rooms whose start is under way (reading the numbering to carry on, ending the previous broadcast). */
  private readonly starting = new Set<string>();
  /**
   * Rooms whose next track publication starts a broadcast (when autoStart): a new stage, and a
   * stage that emptied. Any start disarms it, so a broadcast a moderator ended stays ended while
   * the stage goes on; a failed auto start re-arms it.
   */
  private readonly autoStartArmed = new Set<string>();
  private readonly onNewStage = (stage: StageFeed) => this.follow(stage);
  private closed = false;

  constructor(opts: BroadcastManagerOptions) {
    super();
    this.opts = opts;
    this.ports = new MirrorPortAllocator('127.0.0.1', opts.mirrorPortRange);
    opts.stages.observer.on('newroom', this.onNewStage);
  }

  /** The packager the origin serves for `roomId`, live or just ended. */
  packager(roomId: string): HlsPackager | undefined {
    return this.broadcasts.get(roomId)?.packager;
  }

  status(roomId: string): BroadcastStatus | undefined {
    const b = this.broadcasts.get(roomId);
    if (!b) return undefined;
    const output = b.output();
    return {
      roomId,
      state: b.running ? 'live' : 'ended',
      startedAt: b.startedAt.toISOString(),
      tracks: b.trackIds.length,
      ffmpegRestarts: b.stats().restarts,
      ...(b.packager.recordingId !== undefined ? { recordingId: b.packager.recordingId } : {}),
      ready: b.ready,
      ffmpegCrashes: b.stats().crashes,
      layout: b.layout,
      renditions: output.renditions,
      lastPartAgeMs: b.running ? (output.lastPartAgeMs ?? null) : null,
    };
  }

  /** Whether the room's next broadcast is recorded: its own setting, else the default (RECORD). */
  recordingEnabled(roomId: string): boolean {
    return this.recordSettings.get(roomId) ?? this.opts.record;
  }

  /** Sets a room's recording setting; it applies from the next broadcast start. */
  setRecording(roomId: string, enabled: boolean): void {
    if (!this.opts.stages.get(roomId)) throw new InvalidStateError(`room ${roomId} has no stage here`);
    this.recordSettings.set(roomId, enabled);
  }

  /** The id of the recording a live broadcast of the room is writing now. */
  activeRecording(roomId: string): string | undefined {
    return this.live(roomId)?.packager.recordingId;
  }

  /**
   * Inserts timed metadata at the current media time of the room's live broadcast (409
   * `invalid_state` when none is live or it has no media yet) and tells the `metadata` listeners.
   */
  insertMetadata(roomId: string, payload: unknown): TimedMetadata {
    const live = this.live(roomId);
    if (!live) throw new InvalidStateError(`room ${roomId} is not broadcasting`);
    const item = insertMetadata(live.packager, payload);
    this.safeEmit('metadata', roomId, item);
    return item;
  }

  /** CPU time of all ffmpeg processes and their restarts, for metrics and benchmarks. */
  stats(roomId: string) {
    return this.broadcasts.get(roomId)?.stats();
  }

  /** Follows one stage until it closes. */
  private follow(stage: StageFeed): void {
    const roomId = stage.id;
    if (this.opts.autoStart) this.autoStartArmed.add(roomId);
    const published = (track: StageTrack) => {
      const live = this.live(roomId);
      if (live) {
        live.trackPublished(track);
        this.autoStartArmed.delete(roomId);
      } else if (this.autoStartArmed.has(roomId) && !this.starting.has(roomId)) {
        this.start(roomId).catch((err: unknown) => {
          log.warn({ roomId, err: String(err) }, 'auto start failed');
          if (!this.closed && !this.live(roomId)) this.autoStartArmed.add(roomId);
        });
      }
    };
    const unpublished = (track: StageTrack) => {
      this.live(roomId)?.trackUnpublished(track);
      if (this.opts.autoStart && stage.tracks().length === 0) this.autoStartArmed.add(roomId);
    };
    const closed = () => {
      stage.observer.off('trackpublished', published);
      stage.observer.off('trackunpublished', unpublished);
      this.recordSettings.delete(roomId);
      this.autoStartArmed.delete(roomId);
      this.live(roomId)
        ?.stop('room_closed')
        .catch((err: unknown) => log.warn({ roomId, err: String(err) }, 'ending broadcast failed'));
    };
    stage.observer.on('trackpublished', published);
    stage.observer.on('trackunpublished', unpublished);
    stage.observer.on('close', closed);
  }

  /** Starts the broadcast of a stage the directory knows. */
  async start(roomId: string): Promise<BroadcastStatus> {
    if (this.closed) throw new InvalidStateError('broadcasts are shutting down');
    if (this.live(roomId) || this.starting.has(roomId)) throw new InvalidStateError(`room ${roomId} is already broadcasting`);
    const stage = this.opts.stages.get(roomId);
    if (!stage) throw new InvalidStateError(`room ${roomId} has no stage here`);
    this.starting.add(roomId);
    this.autoStartArmed.delete(roomId);
    let controller: BroadcastController;
    let resume: HlsResumePoint | undefined;
    try {
      const previous = this.broadcasts.get(roomId);
      // The previous broadcast here numbered the playlists this node serves; the store's numbering
      // is for a room that arrives from another node.
      resume = previous ? undefined : await this.opts.hlsPositions?.load(roomId);
      if (previous) await previous.close();
      if (this.closed) throw new InvalidStateError('broadcasts are shutting down');
      controller = new BroadcastController({
        stage,
        engine: this.opts.engine,
        storage: this.opts.storage,
        ports: this.ports,
        ...(this.recordingEnabled(roomId) ? { recordingId: newRecordingId() } : {}),
        ...(this.opts.ffmpegPath ? { ffmpegPath: this.opts.ffmpegPath } : {}),
        ...(this.opts.x264Preset ? { x264Preset: this.opts.x264Preset } : {}),
        ...(resume ? { resume } : {}),
      });
    } finally {
      this.starting.delete(roomId);
    }
    if (resume) log.info({ roomId, ...resume }, 'broadcast carries on the HLS numbering its room left');
    this.keepPosition(roomId, controller);
    controller.on('ready', () => this.safeEmit('broadcastready', roomId));
    controller.on('stopped', (reason) => this.safeEmit('broadcaststopped', roomId, reason));
    controller.on('recorded', (info) => this.safeEmit('recordingready', roomId, info));
    this.broadcasts.set(roomId, controller);
    await controller.start();
    this.safeEmit('broadcaststarted', roomId);
    return this.status(roomId)!;
  }

  /** Saves how far the broadcast's numbering has got, once per new segment number. */
  private keepPosition(roomId: string, controller: BroadcastController): void {
    const store = this.opts.hlsPositions;
    if (!store) return;
    let saved = -1;
    controller.packager.on('segment', () => {
      const point = controller.packager.numbering();
      if (!point || point.nextMsn <= saved) return;
      saved = point.nextMsn;
      store.save(roomId, point);
    });
  }

  async stop(roomId: string, reason: BroadcastStopReason): Promise<void> {
    const live = this.live(roomId);
    if (!live) throw new InvalidStateError(`room ${roomId} is not broadcasting`);
    await live.stop(reason);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.opts.stages.observer.off('newroom', this.onNewStage);
    await Promise.all([...this.broadcasts.values()].map((b) => b.close()));
    this.broadcasts.clear();
  }

  private live(roomId: string): BroadcastController | undefined {
    const b = this.broadcasts.get(roomId);
    return b?.running ? b : undefined;
  }
}
