import Hls, { Events, type BufferCodecsData, type ErrorData, type FragChangedData, type Fragment, type LevelUpdatedData } from 'hls.js';
import { EventEmitter } from '../core/event-emitter.ts';
import { h, releaseVideo } from '../ui/dom.ts';
import { waitForLiveBroadcast } from './broadcast-waiter.ts';
import { withPlaybackToken } from './playback-token.ts';
import { ErrorController, type RecoveryAction } from './error-controller.ts';
import { resolveHlsViewConfig, type HlsViewConfig, type ResolvedHlsViewConfig } from './hls-view-config.ts';
import type { HlsErrorRecord, HlsViewEvents, HlsViewSnapshot, HlsViewState } from './hls-view-types.ts';
import { LatencyReadout } from './latency-readout.ts';
import { liveResyncTarget } from './live-resync.ts';
import { redated } from './playing-date.ts';
import { PlaybackMonitor, type PlaybackState } from './playback-monitor.ts';

export type * from './hls-view-types.ts';

/**
 * The audience view: the room's LL-HLS broadcast in one <video data-testid="hls-video">,
 * played with hls.js in low-latency mode.
 *
 * `start()` shows the element and waits for the broadcast (a 404 playlist is asked for again
 * every `waitRetryMs`), then attaches hls.js. Fatal hls.js errors go through ErrorController;
 * an ended broadcast sends the view back to waiting for the next one. `stop()` detaches
 * hls.js, removes every listener, timer and the element, and may be followed by `start()`
 * again (a viewer promoted to the stage and back); `destroy()` also drops this object's own
 * listeners. Both are idempotent.
 */
export class HlsView extends EventEmitter<HlsViewEvents> {
  readonly config: ResolvedHlsViewConfig;
  private readonly root: HTMLElement;
  private readonly latencyEl: HTMLElement | undefined;
  private stateValue: HlsViewState = 'idle';
  private figure: HTMLElement | undefined;
  private video: HTMLVideoElement | undefined;
  private hls: Hls | undefined;
  private monitor: PlaybackMonitor | undefined;
  private readout: LatencyReadout | undefined;
  private errorController: ErrorController;
  private abort: AbortController | undefined;
  private audioTrackCount = 0;
  private levelEnded = false;
  /** The fragment playing (hls.js FRAG_CHANGED), as hls.js loaded it. */
  private playingFrag: Fragment | undefined;
  private readonly fatalErrors: HlsErrorRecord[] = [];
  private readonly errors: HlsErrorRecord[] = [];
  private readonly cleanups: (() => void)[] = [];
  private mutedValue: boolean;
  private playingCc: number | undefined;
  private crossings = 0;
  private resyncTimer: ReturnType<typeof setTimeout> | undefined;
  private resyncCount = 0;
  /** Why the view failed, once it has. */
  failure: string | undefined;

  /**
   * @param root element the video is put in.
   * @param config see HlsViewConfig; `src` is required.
   * @param latencyEl where "latency 1.4 s" is shown. Default: nowhere.
   */
  constructor(root: HTMLElement, config: Partial<HlsViewConfig> & { src: string }, latencyEl?: HTMLElement) {
    super();
    this.config = resolveHlsViewConfig(config);
    if (!Hls.isSupported()) throw new TypeError('HlsView: this browser has no Media Source Extensions; hls.js cannot play');
    this.root = root;
    this.latencyEl = latencyEl;
    this.errorController = this.newErrorController();
    this.mutedValue = this.config.muted;
  }

  get state(): HlsViewState {
    return this.stateValue;
  }

  get videoElement(): HTMLVideoElement | undefined {
    return this.video;
  }

  /**
   * Turns the sound off or on at once (same tick), e.g. when another view takes over the audio.
   * Unmuting where autoplay refuses sound leaves the Unmute button to the user.
   */
  setMuted(muted: boolean): void {
    this.mutedValue = muted;
    if (this.video) this.video.muted = muted;
  }

  /**
   * Discontinuities the playhead has crossed since `start()` (a fragment with a new
   * discontinuity counter began playing): the program was re-encoded, e.g. the stage changed.
   */
  get discontinuitiesCrossed(): number {
    return this.crossings;
  }

  /**
   * PROGRAM-DATE-TIME of the playing position (server clock), null before the first dated frame.
   * hls.js dates it from the playing fragment as that was loaded, while the packager may date a
   * new input's first segment a little earlier on later playlists (services/packager/segmenter.ts);
   * the date moves by what the newest playlist says of that same segment.
   */
  get playingDate(): Date | null {
    const frag = this.playingFrag;
    return redated(this.hls?.playingDate ?? null, frag, frag ? this.hls?.levels[frag.level]?.details : undefined);
  }

  /** The hls.js instance while one is attached (for diagnostics and benches; do not keep it). */
  get hlsInstance(): Hls | undefined {
    return this.hls;
  }

  /** Shows the element and plays the broadcast as soon as it is live. Idempotent while started. */
  async start(): Promise<void> {
    if (this.abort) return;
    this.abort = new AbortController();
    this.errorController = this.newErrorController();
    this.playingCc = undefined;
    this.crossings = 0;
    this.createElement();
    this.setState('loading');
    this.readout = new LatencyReadout(() => this.playingDate, { el: this.latencyEl, intervalMs: this.config.latencyIntervalMs });
    void this.waitAndAttach();
  }

  /** Stops playback: hls.js detached and destroyed, element removed, every listener and timer gone. Idempotent. */
  async stop(): Promise<void> {
    this.teardown();
    if (this.stateValue !== 'idle' && this.stateValue !== 'failed') this.setState('stopped');
  }

  destroy(): void {
    this.teardown();
    this.removeAllListeners();
  }

  snapshot(): HlsViewSnapshot {
    const video = this.video;
    const quality = video?.getVideoPlaybackQuality();
    const audioBytes = (video as (HTMLVideoElement & { webkitAudioDecodedByteCount?: number }) | undefined)?.webkitAudioDecodedByteCount;
    return {
      state: this.stateValue,
      currentTime: video?.currentTime ?? 0,
      latencySec: this.readout?.refresh() ?? null,
      bufferedEnd: video ? bufferedEnd(video) : 0,
      targetLatencySec: this.hls?.targetLatency ?? null,
      framesDecoded: quality ? quality.totalVideoFrames - quality.droppedVideoFrames : 0,
      droppedFrames: quality?.droppedVideoFrames ?? 0,
      audioTracks: this.audioTrackCount,
      audioDecodedBytes: typeof audioBytes === 'number' ? audioBytes : -1,
      videoWidth: video?.videoWidth ?? 0,
      videoHeight: video?.videoHeight ?? 0,
      fatalErrors: [...this.fatalErrors],
      errors: [...this.errors],
    };
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  private async waitAndAttach(): Promise<void> {
    const abort = this.abort;
    if (!abort) return;
    try {
      await waitForLiveBroadcast(this.config.src, {
        intervalMs: this.config.waitRetryMs,
        signal: abort.signal,
        authorize: (url) => withPlaybackToken(url, this.config.playbackToken?.()),
        onWaiting: (why) => {
          // An ended broadcast stays `ended` until the next one starts.
          if (this.stateValue !== 'ended') this.setState(why === 'ended' ? 'ended' : 'waiting');
        },
      });
    } catch {
      return; // aborted: stop() ran
    }
    if (this.abort !== abort) return;
    this.attachHls();
  }

  private createElement(): void {
    const video = h('video', { 'data-testid': 'hls-video', playsinline: '' });
    video.autoplay = true;
    const figure = h('figure', { class: 'tile', 'data-testid': 'broadcast-player' }, [video]);
    this.root.append(figure);
    this.figure = figure;
    this.video = video;
  }

  private attachHls(): void {
    const video = this.video;
    if (!video) return;
    this.detachHls();
    this.levelEnded = false;
    this.audioTrackCount = 0;
    const hls = new Hls(this.config.hlsConfig);
    this.hls = hls;
    hls.on(Events.ERROR, this.onHlsError);
    hls.on(Events.MANIFEST_PARSED, this.onManifestParsed);
    hls.on(Events.LEVEL_UPDATED, this.onLevelUpdated);
    hls.on(Events.BUFFER_CODECS, this.onBufferCodecs);
    hls.on(Events.FRAG_CHANGED, this.onFragChanged);
    this.monitor = new PlaybackMonitor(video, { stallAfterMs: this.config.stallAfterMs }, this.onPlayback);
    hls.attachMedia(video);
    hls.loadSource(this.config.src);
    if (this.stateValue !== 'ended' && this.stateValue !== 'waiting') this.setState('loading');
  }

  /** Destroys hls.js and the playback monitor, removing their listeners; keeps the element. */
  private detachHls(): void {
    clearTimeout(this.resyncTimer);
    this.resyncTimer = undefined;
    this.monitor?.destroy();
    this.monitor = undefined;
    this.playingFrag = undefined;
    const hls = this.hls;
    this.hls = undefined;
    if (!hls) return;
    hls.off(Events.ERROR, this.onHlsError);
    hls.off(Events.MANIFEST_PARSED, this.onManifestParsed);
    hls.off(Events.LEVEL_UPDATED, this.onLevelUpdated);
    hls.off(Events.BUFFER_CODECS, this.onBufferCodecs);
    hls.off(Events.FRAG_CHANGED, this.onFragChanged);
    hls.destroy();
  }

  private teardown(): void {
    this.abort?.abort(new DOMException('stopped', 'AbortError'));
    this.abort = undefined;
    this.detachHls();
    this.readout?.destroy();
    this.readout = undefined;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    releaseVideo(this.video, this.figure);
    this.figure = undefined;
    this.video = undefined;
  }

  /** Back to waiting for a (new) broadcast, with the element kept. */
  private rewait(): void {
    this.detachHls();
    void this.waitAndAttach();
  }

  // ---- hls.js and element events ------------------------------------------------------------

  private readonly onManifestParsed = (): void => {
    void this.play();
  };

  private readonly onLevelUpdated = (_event: string, data: LevelUpdatedData): void => {
    this.levelEnded = !data.details.live;
  };

  private readonly onBufferCodecs = (_event: string, data: BufferCodecsData): void => {
    let audio = 0;
    if (data.audio) audio++;
    if (data.audiovideo && /mp4a|opus|ac-3|ec-3/.test(data.audiovideo.codec ?? '')) audio++;
    this.audioTrackCount = audio;
  };

  private readonly onFragChanged = (_event: string, data: FragChangedData): void => {
    if (this.playingCc !== undefined && data.frag.cc !== this.playingCc) this.crossings++;
    this.playingCc = data.frag.cc;
    this.playingFrag = data.frag;
  };

  private readonly onPlayback = (state: PlaybackState): void => {
    if (state !== 'stalled') {
      clearTimeout(this.resyncTimer);
      this.resyncTimer = undefined;
    }
    if (state === 'playing') this.setState('playing');
    else if (state === 'stalled') {
      this.setState(this.levelEnded ? 'ended' : 'stalled');
      if (!this.levelEnded) this.scheduleResync();
    }
    else if (state === 'ended') {
      this.setState('ended');
      this.rewait();
    }
  };

  /** While stalled, checks every `resyncAfterMs` whether to jump to the live sync position. */
  private scheduleResync(): void {
    clearTimeout(this.resyncTimer);
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      const video = this.video;
      if (!video || !this.hls || this.stateValue !== 'stalled' || this.levelEnded) return;
      const target = liveResyncTarget(video.currentTime, video.buffered, this.hls.liveSyncPosition);
      if (target !== undefined) {
        this.resyncCount++;
        video.currentTime = target;
      }
      this.scheduleResync();
    }, this.config.resyncAfterMs);
  }

  /** Jumps to the live sync position this view made after a stall it could not leave otherwise. */
  get resyncs(): number {
    return this.resyncCount;
  }

  private readonly onHlsError = (_event: string, data: ErrorData): void => {
    const record: HlsErrorRecord = {
      type: data.type,
      details: data.details,
      fatal: data.fatal,
      message: data.error?.message ?? data.reason ?? data.details,
      at: Date.now(),
    };
    if (!data.fatal) {
      this.errors.push(record);
      if (this.errors.length > this.config.maxErrorsKept) this.errors.shift();
      this.emit('error', record);
      return;
    }
    const action = this.errorController.decide(data);
    record.action = action;
    this.fatalErrors.push(record);
    this.emit('error', record);
    this.recover(action, record);
  };

  private recover(action: RecoveryAction, record: HlsErrorRecord): void {
    const hls = this.hls;
    switch (action) {
      case 'rewait':
        return this.rewait();
      case 'startLoad':
        return hls?.startLoad();
      case 'recoverMedia':
        return hls?.recoverMediaError();
      case 'swapAudioCodecAndRecover':
        hls?.swapAudioCodec();
        return hls?.recoverMediaError();
      case 'fail':
        this.abort?.abort(new DOMException('failed', 'AbortError'));
        this.abort = undefined;
        this.detachHls();
        this.failure = `${record.details}: ${record.message}`;
        this.setState('failed');
    }
  }

  /** Plays with sound where autoplay allows it; otherwise muted, with an Unmute button. */
  private async play(): Promise<void> {
    const video = this.video;
    if (!video) return;
    video.muted = this.mutedValue;
    try {
      await video.play();
    } catch (err) {
      if ((err as DOMException).name !== 'NotAllowedError' || this.video !== video) return;
      video.muted = true;
      await video.play().catch(() => {});
      this.offerUnmute(video);
    }
  }

  private offerUnmute(video: HTMLVideoElement): void {
    if (!this.figure || this.figure.querySelector('.unmute')) return;
    const button = h('button', { class: 'unmute', type: 'button' }, ['Unmute']);
    const onClick = () => {
      video.muted = false;
      button.remove();
    };
    button.addEventListener('click', onClick, { once: true });
    this.cleanups.push(() => button.removeEventListener('click', onClick));
    this.figure.append(button);
  }

  private setState(state: HlsViewState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.emit('statechange', state);
  }

  private newErrorController(): ErrorController {
    return new ErrorController({ maxRecoveries: this.config.maxRecoveries, windowMs: this.config.recoveryWindowMs });
  }
}

function bufferedEnd(video: HTMLVideoElement): number {
  const ranges = video.buffered;
  for (let i = 0; i < ranges.length; i++) {
    if (video.currentTime >= ranges.start(i) - 0.1 && video.currentTime <= ranges.end(i)) return ranges.end(i);
  }
  return ranges.length ? ranges.end(ranges.length - 1) : 0;
}
