import { EnhancedEventEmitter } from '../core/EnhancedEventEmitter.ts';
import { InvalidStateError } from '../core/errors.ts';
import { logger } from '../core/logger.ts';
import type { MediaEngine, StageTrack } from '../engine/EngineTypes.ts';
import type { HlsPackager } from '../packager/index.ts';
import type { Storage } from '../storage/Storage.ts';
import { BroadcastController, type BroadcastStopReason } from './BroadcastController.ts';
import { MirrorPortAllocator } from './mirrorPorts.ts';
import type { X264Preset } from './BroadcastController.ts';

const log = logger.child({ mod: 'broadcast' });

export interface BroadcastManagerOptions {
  engine: MediaEngine;
  storage: Storage;
  /** Start a room's broadcast when its stage gets its first track. Default true. */
  autoStart?: boolean;
  /** Keep every segment in storage. Default false. */
  record?: boolean;
  /** ffmpeg binary. Default: the transcoder's (FFMPEG_PATH, else ffmpeg on the PATH). */
  ffmpegPath?: string;
  /** libx264 preset. Default: the transcoder's (veryfast). */
  x264Preset?: X264Preset;
  /** UDP ports for the RTP mirror, "min-max" pairs. Default 50000-50999. */
  mirrorPortRange?: [number, number];
}

export interface BroadcastStatus {
  roomId: string;
  state: 'live' | 'ended';
  startedAt: string;
  tracks: number;
  ffmpegRestarts: number;
}

/** Internal events, for webhooks later: they carry the room id and nothing else is promised. */
export type BroadcastManagerEvents = {
  broadcaststarted: [roomId: string];
  broadcastready: [roomId: string];
  broadcaststopped: [roomId: string, reason: BroadcastStopReason];
};

/**
 * Every room's broadcast on this node. The server feeds it stage events; it starts a
 * broadcast when a room's stage gets its first track (when autoStart), and on request. An ended broadcast's
 * packager stays until the next one starts, so its final (ENDLIST) playlists keep being served.
 */
export class BroadcastManager extends EnhancedEventEmitter<BroadcastManagerEvents> {
  private readonly opts: BroadcastManagerOptions;
  private readonly ports: MirrorPortAllocator;
  private readonly broadcasts = new Map<string, BroadcastController>();
  /** Tracks live on each room's stage, as the stage reported them. */
  private readonly stage = new Map<string, Map<string, StageTrack>>();
  private closed = false;

  constructor(opts: BroadcastManagerOptions) {
    super();
    this.opts = opts;
    this.ports = new MirrorPortAllocator('127.0.0.1', opts.mirrorPortRange ?? [50000, 50999]);
  }

  /** The packager the origin serves for `roomId`, live or just ended. */
  packager(roomId: string): HlsPackager | undefined {
    return this.broadcasts.get(roomId)?.packager;
  }

  status(roomId: string): BroadcastStatus | undefined {
    const b = this.broadcasts.get(roomId);
    if (!b) return undefined;
    return {
      roomId,
      state: b.running ? 'live' : 'ended',
      startedAt: b.startedAt.toISOString(),
      tracks: b.trackIds.length,
      ffmpegRestarts: b.stats().restarts,
    };
  }

  /** CPU time of all ffmpeg processes and their restarts, for metrics and benchmarks. */
  stats(roomId: string) {
    return this.broadcasts.get(roomId)?.stats();
  }

  trackPublished(roomId: string, track: StageTrack): void {
    const tracks = this.tracks(roomId);
    // Auto start belongs to the stage's first track only: a broadcast a moderator ended stays
    // ended while the stage goes on, until the API starts it or the stage empties and refills.
    const firstOnStage = tracks.size === 0;
    tracks.set(track.trackId, track);
    const live = this.live(roomId);
    if (live) live.trackPublished(track);
    else if (firstOnStage && (this.opts.autoStart ?? true)) {
      this.start(roomId).catch((err: unknown) => log.warn({ roomId, err: String(err) }, 'auto start failed'));
    }
  }

  trackUnpublished(roomId: string, track: StageTrack): void {
    this.tracks(roomId).delete(track.trackId);
    this.live(roomId)?.trackUnpublished(track);
  }

  async start(roomId: string): Promise<BroadcastStatus> {
    if (this.closed) throw new InvalidStateError('broadcasts are shutting down');
    if (this.live(roomId)) throw new InvalidStateError(`room ${roomId} is already broadcasting`);
    const previous = this.broadcasts.get(roomId);
    if (previous) await previous.close();
    const controller = new BroadcastController({
      roomId,
      engine: this.opts.engine,
      storage: this.opts.storage,
      ports: this.ports,
      record: this.opts.record ?? false,
      ...(this.opts.ffmpegPath ? { ffmpegPath: this.opts.ffmpegPath } : {}),
      ...(this.opts.x264Preset ? { x264Preset: this.opts.x264Preset } : {}),
    });
    controller.on('ready', () => this.safeEmit('broadcastready', roomId));
    controller.on('stopped', (reason) => this.safeEmit('broadcaststopped', roomId, reason));
    this.broadcasts.set(roomId, controller);
    await controller.start([...this.tracks(roomId).values()]);
    this.safeEmit('broadcaststarted', roomId);
    return this.status(roomId)!;
  }

  async stop(roomId: string, reason: BroadcastStopReason): Promise<void> {
    const live = this.live(roomId);
    if (!live) throw new InvalidStateError(`room ${roomId} is not broadcasting`);
    await live.stop(reason);
  }

  /** The room is gone: end its broadcast (ENDLIST) and forget its stage. */
  async roomClosed(roomId: string): Promise<void> {
    this.stage.delete(roomId);
    await this.live(roomId)?.stop('room_closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.broadcasts.values()].map((b) => b.close()));
    this.broadcasts.clear();
  }

  private live(roomId: string): BroadcastController | undefined {
    const b = this.broadcasts.get(roomId);
    return b?.running ? b : undefined;
  }

  private tracks(roomId: string): Map<string, StageTrack> {
    let tracks = this.stage.get(roomId);
    if (!tracks) this.stage.set(roomId, (tracks = new Map()));
    return tracks;
  }
}
