import type { Readable } from 'node:stream';
import type { Logger } from '../core/logger.ts';
import type { MediaKind, TrackSource } from '../engine/EngineTypes.ts';
import type { CompositionOptions, Rendition } from './composition.ts';

/** One stage track as the engine mirrors it: plain RTP to loopback, described by SDP. */
export interface StageInput {
  /** Stable id (the engine's trackId), used in logs and to keep tile order stable. */
  id: string;
  kind: MediaKind;
  /** A video track's source; `screen` switches the composition to the presentation layout. Default `camera`. */
  source?: TrackSource;
  /** The mirror's SDP (one audio or video section, RTCP on its own port). */
  sdp: string;
}

export interface TranscoderOptions {
  /** Stage tracks to compose. Default none: a black frame and silence. */
  inputs?: StageInput[];
  /** ABR ladder. Default `DEFAULT_LADDER` (720p 2.5 Mb/s, 360p 800 kb/s). */
  ladder?: readonly Rendition[];
  /** Frame rate, GOP, x264 preset, part duration. Defaults: see `CompositionOptions`. */
  composition?: Omit<CompositionOptions, 'ladder'>;
  /** ffmpeg binary. Default `FFMPEG_PATH`, else `ffmpeg` on PATH. */
  ffmpegPath?: string;
  /**
   * An ffmpeg that lived shorter than this counts as a quick crash; only repeated quick
   * crashes back off (100 ms doubling, capped at `maxRestartDelayMs`). Default 5000.
   */
  quickCrashMs?: number;
  /** Longest wait before restarting a crashed ffmpeg, ms. Default 1000. */
  maxRestartDelayMs?: number;
  /**
   * An ffmpeg that writes no output for this long is killed and replaced (counted in
   * `stalls`; its exit looks like a crash). 0 disables. Default 5000.
   */
  stallTimeoutMs?: number;
  /** How long ffmpeg gets to finish after SIGTERM before SIGKILL, ms. Default 1000. */
  stopGraceMs?: number;
  logger?: Logger;
}

/** What the packager needs to describe a rendition in the multivariant playlist. */
export interface RenditionInfo {
  name: string;
  width: number;
  height: number;
  /** Peak bits per second, video plus audio (the playlist's BANDWIDTH). */
  bandwidth: number;
  /** RFC 6381 codecs, e.g. `avc1.4d401f,mp4a.40.2`. */
  codecs: string;
  frameRate: number;
}

export type RestartReason = 'crash' | 'update';

export type TranscoderEvents = {
  /**
   * A new ffmpeg started and this is one rendition's fMP4 byte stream (init segment first).
   * Fires once per rendition per generation. The previous generation's stream has ended or
   * will end: the packager treats a new generation as a discontinuity. Keep reading it;
   * a stream nobody reads stalls every rendition.
   */
  output: [rendition: string, info: RenditionInfo, stream: Readable, generation: number];
  /**
   * The generation's ffmpeg now receives on every input port. Ask the engine for a keyframe of
   * each video track here (`requestKeyFrame`): until one arrives, that tile cannot start.
   */
  ready: [generation: number];
  /**
   * The generation's ffmpeg has been receiving for a while and has still written nothing: the
   * keyframe it waits for was lost (or never sent). Ask for keyframes again. Repeats about once
   * a second until output flows, well before the stall check replaces the process.
   */
  keyframeneeded: [generation: number];
  /** ffmpeg exited. `willRestart` is false only when the transcoder is closing. */
  exit: [code: number | null, signal: NodeJS.Signals | null, willRestart: boolean];
  /** A replacement ffmpeg was spawned (after a crash, or for a new composition); 'output' follows. */
  restart: [generation: number, reason: RestartReason];
  close: [reason: string];
};

export interface TranscoderStats {
  /** Number of ffmpeg processes started so far (the current one's generation). */
  generation: number;
  /** ffmpeg processes started to replace a previous one. */
  restarts: number;
  /** ffmpeg exits nobody asked for (stall kills included). */
  crashes: number;
  /** ffmpeg processes killed for writing no output for `stallTimeoutMs`. */
  stalls: number;
  running: boolean;
  pid: number | undefined;
  /** CPU time (user + system) of every ffmpeg this transcoder ran, microseconds. */
  ffmpegCpuMicros: number;
}
