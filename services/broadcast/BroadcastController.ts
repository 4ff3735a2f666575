import { EnhancedEventEmitter } from '../core/EnhancedEventEmitter.ts';
import { logger as rootLogger } from '../core/logger.ts';
import type { MediaEngine, StageTrack } from '../engine/EngineTypes.ts';
import { HlsPackager, type HlsResumePoint } from '../packager/index.ts';
import type { RecordingInfo } from '../packager/recording.ts';
import type { Storage } from '../storage/Storage.ts';
import type { MirrorPortAllocator } from './mirrorPorts.ts';
import type { X264Preset } from '../core/config.ts';
import type { StageFeed } from './StageFeed.ts';
import { BitrateMeter, type RenditionBitrate } from './BitrateMeter.ts';
import { Transcoder } from './Transcoder.ts';
import type { StageInput, TranscoderStats } from './TranscoderTypes.ts';

/** LL-HLS part target; matches the transcoder's fragment duration (200 ms). */
const PART_TARGET_SEC = 0.2;


/** How the program composes the stage: a grid of cameras, or a shared screen with a strip of cameras. */
export type BroadcastLayout = 'grid' | 'presentation';

/** Why a broadcast stopped. */
export type BroadcastStopReason = 'api' | 'room_closed' | 'shutdown' | 'failed';

export interface BroadcastControllerOptions {
  /** The stage it broadcasts: its live tracks are read from it, never copied. */
  stage: StageFeed;
  engine: MediaEngine;
  storage: Storage;
  ports: MirrorPortAllocator;
  /** Address the mirror sends to and ffmpeg listens on. Default 127.0.0.1. */
  mirrorIp?: string;
  /** Keep this broadcast as a VOD recording with this id (packager/recording.ts). Absent: no recording. */
  recordingId?: string;
  /** ffmpeg binary. Absent: the transcoder's. */
  ffmpegPath?: string;
  /** libx264 preset. Absent: BROADCAST_X264_PRESET's default. */
  x264Preset?: X264Preset;
  /** Stage changes within this window are folded into one ffmpeg restart, ms. Default 250. */
  settleMs?: number;
  /** Carry on the HLS numbering of the room's previous broadcast on another node (HlsPackagerOptions.resume). */
  resume?: HlsResumePoint;
}

export type BroadcastControllerEvents = {
  started: [];
  /** The HLS program is playable (every rendition has a segment). */
  ready: [];
  stopped: [reason: BroadcastStopReason];
  /** The recording is complete in storage (just before `stopped`). */
  recorded: [info: RecordingInfo];
};

interface MirroredTrack {
  track: StageTrack;
  rtpPort: number;
  sdp: string;
}

/**
 * One room's broadcast: mirrors every stage track out of the engine as plain RTP, composes
 * and encodes them with a supervised ffmpeg (Transcoder), and packages the result as LL-HLS
 * (HlsPackager). Follows the stage: a track coming or going restarts ffmpeg with the new
 * composition, and the playlists carry a discontinuity.
 */
export class BroadcastController extends EnhancedEventEmitter<BroadcastControllerEvents> {
  readonly roomId: string;
  readonly packager: HlsPackager;
  readonly startedAt = new Date();
  private readonly opts: BroadcastControllerOptions;
  private readonly transcoder: Transcoder;
  /** The mirrors this broadcast set up (its own state: ports and SDP), by track id. */
  private readonly mirrored = new Map<string, MirroredTrack>();
  private readonly log;
  private settleTimer: NodeJS.Timeout | undefined;
  private changes: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  private readonly bitrate = new BitrateMeter();
  private layoutValue: BroadcastLayout = 'grid';
  private readyValue = false;

  constructor(opts: BroadcastControllerOptions) {
    super();
    this.opts = opts;
    this.roomId = opts.stage.id;
    this.log = rootLogger.child({ mod: 'broadcast', room: this.roomId });
    this.packager = new HlsPackager({
      roomId: this.roomId,
      storage: opts.storage,
      ...(opts.recordingId !== undefined ? { recordingId: opts.recordingId } : {}),
      // One part per ffmpeg fragment: the transcoder cuts 200 ms fragments.
      partTargetSec: PART_TARGET_SEC,
      ...(opts.resume ? { resume: opts.resume } : {}),
    });
    this.packager.on('ready', () => {
      this.readyValue = true;
      this.safeEmit('ready');
    });
    this.packager.on('part', (rendition, part) => this.bitrate.add(rendition, part.data.length, part.durationSec));
    this.packager.on('recorded', (info) => this.safeEmit('recorded', info));
    this.transcoder = new Transcoder({
      logger: this.log,
      ...(opts.ffmpegPath ? { ffmpegPath: opts.ffmpegPath } : {}),
      ...(opts.x264Preset ? { composition: { preset: opts.x264Preset } } : {}),
    });
    this.transcoder.on('output', (name, info, stream) => {
      this.packager.addRendition(name, { bandwidth: info.bandwidth, width: info.width, height: info.height, frameRate: info.frameRate }, stream);
    });
    this.transcoder.on('ready', () => this.requestKeyFrames());
    this.transcoder.on('keyframeneeded', () => this.requestKeyFrames());
  }

  get running(): boolean {
    return this.stopping === undefined;
  }

  get trackIds(): string[] {
    return [...this.mirrored.keys()];
  }

  stats(): TranscoderStats {
    return this.transcoder.stats();
  }

  /** The HLS program has been playable (every rendition had a segment); stays true once ended. */
  get ready(): boolean {
    return this.readyValue;
  }

  /** The layout ffmpeg was last given: `presentation` while a screen is shared, else `grid`. */
  get layout(): BroadcastLayout {
    return this.layoutValue;
  }

  /** Output bitrate per rendition over the last seconds, and how long ago the last part came. */
  output(): { renditions: RenditionBitrate[]; lastPartAgeMs: number | undefined } {
    return { renditions: this.bitrate.read(), lastPartAgeMs: this.bitrate.lastPartAgeMs };
  }

  /** Mirrors the stage's current tracks and starts ffmpeg. */
  async start(): Promise<void> {
    const tracks = this.opts.stage.tracks();
    for (const track of tracks) await this.mirror(track);
    await this.updateTranscoder();
    this.transcoder.start();
    this.log.info({ tracks: tracks.length }, 'broadcast started');
    this.safeEmit('started');
  }

  trackPublished(track: StageTrack): void {
    if (!this.running || this.mirrored.has(track.trackId)) return;
    this.enqueue(async () => {
      await this.mirror(track);
    });
  }

  trackUnpublished(track: StageTrack): void {
    const mirrored = this.mirrored.get(track.trackId);
    if (!mirrored) return;
    this.mirrored.delete(track.trackId);
    this.opts.ports.release(mirrored.rtpPort);
    this.enqueue(async () => {
      await this.opts.engine.stopMirror(this.roomId, track.trackId).catch(() => {});
    });
  }

  /** Ends the broadcast: playlists get ENDLIST, ffmpeg stops, mirrors stop. Idempotent. */
  stop(reason: BroadcastStopReason): Promise<void> {
    if (this.stopping) return this.stopping;
    clearTimeout(this.settleTimer);
    this.stopping = (async () => {
      await this.changes.catch(() => {});
      await this.transcoder.close(reason);
      for (const { track, rtpPort } of this.mirrored.values()) {
        this.opts.ports.release(rtpPort);
        await this.opts.engine.stopMirror(this.roomId, track.trackId).catch(() => {});
      }
      this.mirrored.clear();
      await this.packager.end().catch((err: unknown) => this.log.warn({ err: String(err) }, 'packager end failed'));
      this.log.info({ reason }, 'broadcast stopped');
      this.safeEmit('stopped', reason);
    })();
    return this.stopping;
  }

  /** Frees the packager's memory; the ended playlists stay in storage. */
  async close(): Promise<void> {
    await this.stop('shutdown');
    await this.packager.close('closed');
  }

  private enqueue(change: () => Promise<void>): void {
    this.changes = this.changes.then(change).catch((err: unknown) => this.log.warn({ err: String(err) }, 'stage change failed'));
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      this.changes = this.changes.then(async () => {
        if (!this.running) return;
        await this.updateTranscoder();
      });
    }, this.opts.settleMs ?? 250);
  }

  private async mirror(track: StageTrack): Promise<void> {
    const ip = this.opts.mirrorIp ?? '127.0.0.1';
    const { rtpPort, rtcpPort } = await this.opts.ports.allocate();
    try {
      const info = await this.opts.engine.mirrorTrack(this.roomId, track.trackId, { ip, rtpPort, rtcpPort });
      if (!this.running || !this.onStage(track.trackId)) {
        // The track left (or the broadcast stopped) while its mirror was being set up: undo it, or ffmpeg would wait on it.
        this.opts.ports.release(rtpPort);
        await this.opts.engine.stopMirror(this.roomId, track.trackId).catch(() => {});
        return;
      }
      this.mirrored.set(track.trackId, { track, rtpPort, sdp: info.sdp });
    } catch (err) {
      this.opts.ports.release(rtpPort);
      this.log.warn({ trackId: track.trackId, err: String(err) }, 'mirror failed');
    }
  }

  private onStage(trackId: string): boolean {
    return this.opts.stage.tracks().some((t) => t.trackId === trackId);
  }

  private async updateTranscoder(): Promise<void> {
    const inputs = this.inputs();
    const layout: BroadcastLayout = inputs.some((i) => i.kind === 'video' && i.source === 'screen') ? 'presentation' : 'grid';
    if (layout !== this.layoutValue) this.log.info({ layout }, 'broadcast layout');
    this.layoutValue = layout;
    await this.transcoder.update(inputs);
  }

  private inputs(): StageInput[] {
    return [...this.mirrored.values()].map(({ track, sdp }) => ({ id: track.trackId, kind: track.kind, sdp, ...(track.source ? { source: track.source } : {}) }));
  }

  private requestKeyFrames(): void {
    for (const { track } of this.mirrored.values()) {
      if (track.kind === 'video') this.opts.engine.requestKeyFrame(this.roomId, track.trackId).catch(() => {});
    }
  }
}
