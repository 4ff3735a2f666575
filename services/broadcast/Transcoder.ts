import { Transform, type Readable } from 'node:stream';
import { EnhancedEventEmitter } from '../core/EnhancedEventEmitter.ts';
import { InvalidStateError } from '../core/errors.ts';
import { logger as rootLogger, type Logger } from '../core/logger.ts';
import { composeStage, DEFAULT_LADDER, MAX_TILES, type Composition, type CompositionOptions } from './composition.ts';
import { FfmpegProcess, type FfmpegCommandSpec } from './ffmpeg.ts';
import { joinSdp, splitSdp, type SdpMediaSection } from './sdp.ts';
import type {
  RenditionInfo,
  RestartReason,
  StageInput,
  TranscoderEvents,
  TranscoderOptions,
  TranscoderStats,
} from './TranscoderTypes.ts';

export type * from './TranscoderTypes.ts';

/** Period of the CPU sampling and the stall check. */
const WATCH_MS = 1000;
const FIRST_BACKOFF_MS = 100;
/** How long a listening ffmpeg may wait for its first keyframe before keyframes are asked for again. */
const KEYFRAME_RETRY_MS = 1000;

export interface TranscodePlan {
  spec: FfmpegCommandSpec;
  composition: Composition;
  renditions: RenditionInfo[];
  /** Video inputs left out because the grid is full. */
  droppedVideo: string[];
}

/**
 * What ffmpeg will run for these stage inputs: every track in one SDP input, the stage
 * composition, and one fMP4 output per rendition.
 */
export function planTranscode(inputs: readonly StageInput[], options: CompositionOptions = {}): TranscodePlan {
  const sections: SdpMediaSection[] = [];
  const video: string[] = [];
  const audio: string[] = [];
  const droppedVideo: string[] = [];
  let screen: string | undefined;
  for (const input of inputs) {
    const section = inputSection(input);
    const isScreen = input.kind === 'video' && input.source === 'screen';
    // One shared screen is shown (the first); cameras fill the grid up to its size.
    if (isScreen ? screen !== undefined : input.kind === 'video' && video.length >= MAX_TILES) {
      droppedVideo.push(input.id);
      continue;
    }
    // ffmpeg numbers an SDP input's streams in m-line order.
    const spec = `0:${sections.length}`;
    if (isScreen) screen = spec;
    else (input.kind === 'video' ? video : audio).push(spec);
    sections.push(section);
  }
  const composition = composeStage({ video, audio, ...(screen ? { screen } : {}) }, options);
  const fps = options.fps ?? 30;
  const spec: FfmpegCommandSpec = {
    inputs: sections.length > 0 ? [{ type: 'sdp', sdp: joinSdp(sections) }] : [],
    filterComplex: composition.filterComplex,
    outputs: composition.outputs.map((o) => ({ maps: o.maps, options: o.options })),
  };
  const renditions = composition.outputs.map((o) => ({
    name: o.rendition.name,
    width: o.rendition.width,
    height: o.rendition.height,
    bandwidth: o.rendition.videoBitrate + o.rendition.audioBitrate,
    codecs: o.codecs,
    frameRate: fps,
  }));
  return { spec, composition, renditions, droppedVideo };
}

function inputSection(input: StageInput): SdpMediaSection {
  if (input.kind !== 'audio' && input.kind !== 'video') throw new TypeError(`stage input ${input.id}: unknown kind`);
  const sections = splitSdp(input.sdp);
  if (sections.length !== 1 || sections[0]!.kind !== input.kind) {
    throw new TypeError(`stage input ${input.id}: SDP must describe exactly one ${input.kind} stream`);
  }
  return sections[0]!;
}

/**
 * The broadcast pipeline of one stage: one supervised ffmpeg that composes the stage tracks
 * and encodes the ABR ladder as fMP4 byte streams. If ffmpeg dies, a new one runs at once
 * (backing off only on repeated quick crashes); a new stage (`update`) replaces it the same
 * way. Each ffmpeg is a generation; each generation's streams arrive through 'output'.
 */
export class Transcoder extends EnhancedEventEmitter<TranscoderEvents> {
  readonly #options: TranscoderOptions;
  readonly #logger: Logger;
  #inputs: StageInput[];
  #process: FfmpegProcess | undefined;
  /** Processes we are stopping on purpose (update, close): their exit is not a crash. */
  readonly #stopping = new WeakSet<FfmpegProcess>();
  #started = false;
  #closed = false;
  #closePromise: Promise<void> | undefined;
  #generation = 0;
  #restarts = 0;
  #crashes = 0;
  #quickCrashes = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #watchTimer: NodeJS.Timeout | undefined;
  /** `Date.now()` when the current generation last wrote output bytes; 0 before its first. */
  #lastOutputAt = 0;
  /** When keyframes were last asked for on behalf of the current ffmpeg (0: not listening yet). */
  #keyframeAskedAt = 0;
  #stalls = 0;
  /** CPU of ffmpeg processes that have exited, microseconds. */
  #pastCpuMicros = 0;
  #updates: Promise<void> = Promise.resolve();
  #updatePending = false;

  constructor(options: TranscoderOptions = {}) {
    super();
    this.#options = options;
    this.#logger = options.logger ?? rootLogger.child({ mod: 'broadcast' });
    this.#inputs = [...(options.inputs ?? [])];
    // Fail on bad inputs or ladder now, not in a restart loop.
    planTranscode(this.#inputs, this.#compositionOptions());
  }

  get closed(): boolean {
    return this.#closed;
  }

  get generation(): number {
    return this.#generation;
  }

  get inputs(): readonly StageInput[] {
    return this.#inputs;
  }

  /** The running ffmpeg's argument list (without the binary), for logs and diagnosis. */
  get ffmpegArgs(): readonly string[] | undefined {
    return this.#process?.args;
  }

  /** Spawns the first ffmpeg; its 'output' events fire before this returns. Idempotent. */
  start(): void {
    if (this.#closed) throw new InvalidStateError('transcoder closed');
    if (this.#started) return;
    this.#started = true;
    this.#watchTimer = setInterval(() => this.#watch(), WATCH_MS);
    this.#watchTimer.unref();
    this.#spawn(undefined);
  }

  /**
   * The stage changed: replaces ffmpeg with one composing `inputs` (the packager sees new
   * streams, a discontinuity). Resolves once the new ffmpeg is spawned. Updates in quick
   * succession coalesce; the last inputs win. Before `start()` it only records the inputs.
   */
  update(inputs: StageInput[]): Promise<void> {
    if (this.#closed) return Promise.reject(new InvalidStateError('transcoder closed'));
    planTranscode(inputs, this.#compositionOptions());
    this.#inputs = [...inputs];
    if (!this.#started) return Promise.resolve();
    this.#updatePending = true;
    const applied = this.#updates.then(() => this.#applyUpdate());
    // One failed update must not poison the ones queued after it.
    this.#updates = applied.catch(() => undefined);
    return applied;
  }

  /** Stops ffmpeg (SIGTERM, then SIGKILL) and removes its temp files. Idempotent. */
  close(reason = 'closed'): Promise<void> {
    if (this.#closePromise) return this.#closePromise;
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    clearInterval(this.#watchTimer);
    const proc = this.#process;
    this.#logger.info({ reason, generation: this.#generation }, 'transcoder closing');
    this.#closePromise = (async () => {
      if (proc) {
        this.#stopping.add(proc);
        await proc.stop(this.#options.stopGraceMs);
      }
      this.safeEmit('close', reason);
    })();
    return this.#closePromise;
  }

  stats(): TranscoderStats {
    const proc = this.#process;
    return {
      generation: this.#generation,
      restarts: this.#restarts,
      crashes: this.#crashes,
      stalls: this.#stalls,
      running: proc !== undefined && !proc.exited,
      pid: proc?.pid,
      ffmpegCpuMicros: this.#pastCpuMicros + (proc?.cpuMicros() ?? 0),
    };
  }

  #compositionOptions(): CompositionOptions {
    return { ...this.#options.composition, ladder: this.#options.ladder ?? DEFAULT_LADDER };
  }

  async #applyUpdate(): Promise<void> {
    if (!this.#updatePending || this.#closed) return;
    this.#updatePending = false;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    const proc = this.#process;
    if (proc && !proc.exited) {
      this.#stopping.add(proc);
      await proc.stop(this.#options.stopGraceMs);
    }
    if (this.#closed) return;
    try {
      this.#spawn('update');
    } catch (err) {
      // Keep trying on our own, as after a crash; the caller still learns this attempt failed.
      this.#logger.error({ err: err instanceof Error ? err.message : String(err) }, 'cannot start ffmpeg');
      this.#scheduleRestart(this.#nextRestartDelay(0));
      throw err;
    }
  }

  #spawn(reason: RestartReason | undefined): void {
    const plan = planTranscode(this.#inputs, this.#compositionOptions());
    if (plan.droppedVideo.length > 0) {
      this.#logger.warn({ dropped: plan.droppedVideo }, `the broadcast grid shows at most ${MAX_TILES} videos`);
    }
    const proc = new FfmpegProcess(plan.spec, { binary: this.#options.ffmpegPath, logger: this.#logger });
    this.#process = proc;
    const generation = ++this.#generation;
    proc.once('exit', (code, signal) => this.#onExit(proc, code, signal));
    proc.once('listening', () => {
      if (this.#process === proc) this.#keyframeAskedAt = Date.now();
      this.safeEmit('ready', generation);
    });
    this.#logger.info(
      { generation, pid: proc.pid, reason: reason ?? 'start', layout: plan.composition.layout.name, inputs: this.#inputs.map((i) => i.id) },
      'ffmpeg started',
    );
    if (reason) {
      this.#restarts++;
      this.safeEmit('restart', generation, reason);
    }
    this.#lastOutputAt = 0;
    this.#keyframeAskedAt = 0;
    plan.renditions.forEach((info, i) => {
      const stream = this.#observe(proc.outputs[i]!, proc);
      // An unread pipe would block ffmpeg and stall every rendition.
      if (this.listenerCount('output') === 0) stream.resume();
      this.safeEmit('output', info.name, info, stream, generation);
    });
  }

  /** Passes ffmpeg's bytes through unchanged (backpressure included), noting when they flow. */
  #observe(source: Readable, proc: FfmpegProcess): Readable {
    const observed = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        if (this.#process === proc) this.#lastOutputAt = Date.now();
        done(null, chunk);
      },
    });
    source.on('error', (err) => {
      this.#logger.warn({ pid: proc.pid, err: err.message }, 'ffmpeg output pipe error');
      observed.end();
    });
    return source.pipe(observed);
  }

  /**
   * Samples ffmpeg's CPU (so a process that dies is still counted), and replaces an ffmpeg
   * that has written nothing for `stallTimeoutMs`: a lost keyframe or a track that stopped
   * leaves ffmpeg waiting forever, while a new one gets a fresh keyframe request ('ready').
   */
  #watch(): void {
    const proc = this.#process;
    if (!proc || proc.exited) return;
    proc.cpuMicros();
    const now = Date.now();
    if (this.#lastOutputAt === 0 && this.#keyframeAskedAt > 0 && now - this.#keyframeAskedAt >= KEYFRAME_RETRY_MS) {
      this.#keyframeAskedAt = now;
      this.#logger.info({ pid: proc.pid }, 'ffmpeg has written nothing yet; asking for keyframes again');
      this.safeEmit('keyframeneeded', this.#generation);
    }
    const limit = this.#options.stallTimeoutMs ?? 5000;
    const silentFor = Date.now() - Math.max(this.#lastOutputAt, proc.startedAt);
    if (limit > 0 && silentFor > limit) {
      this.#stalls++;
      this.#logger.warn({ pid: proc.pid, silentMs: silentFor, stderr: proc.stderrTail().slice(-4) }, 'ffmpeg stalled; replacing it');
      proc.kill('SIGKILL');
    }
  }

  #onExit(proc: FfmpegProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.#pastCpuMicros += proc.cpuMicros();
    if (this.#process === proc) this.#process = undefined;
    if (this.#stopping.has(proc) || this.#closed) {
      this.#logger.debug({ pid: proc.pid, code, signal }, 'ffmpeg stopped');
      this.safeEmit('exit', code, signal, !this.#closed);
      return;
    }
    this.#crashes++;
    const lived = Date.now() - proc.startedAt;
    const delay = this.#nextRestartDelay(lived);
    this.#logger.warn({ pid: proc.pid, code, signal, livedMs: lived, restartInMs: delay, stderr: proc.stderrTail().slice(-8) }, 'ffmpeg exited unexpectedly');
    this.safeEmit('exit', code, signal, true);
    this.#scheduleRestart(delay);
  }

  /** No wait after a crash that follows a good run; 100 ms doubling up to the cap for repeated quick ones. */
  #nextRestartDelay(livedMs: number): number {
    this.#quickCrashes = livedMs < (this.#options.quickCrashMs ?? 5000) ? this.#quickCrashes + 1 : 0;
    if (this.#quickCrashes <= 1) return 0;
    return Math.min(FIRST_BACKOFF_MS * 2 ** (this.#quickCrashes - 2), this.#options.maxRestartDelayMs ?? 1000);
  }

  #scheduleRestart(delay: number): void {
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#closed || this.#process) return;
      try {
        this.#spawn('crash');
      } catch (err) {
        this.#logger.error({ err: err instanceof Error ? err.message : String(err) }, 'cannot start ffmpeg');
        this.#scheduleRestart(this.#nextRestartDelay(0));
      }
    }, delay);
  }
}
