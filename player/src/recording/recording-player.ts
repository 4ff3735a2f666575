import Hls, { Events, type ErrorData } from 'hls.js';
import { EventEmitter } from '../core/event-emitter.ts';
import { h, releaseVideo } from '../ui/dom.ts';

/** The newest ready recording of a room, as the origin describes it (`GET /hls/:room/recordings/latest`). */
export interface LatestRecording {
  id: string;
  startedAt: string;
  durationSec: number;
  playlist: string;
}

export type RecordingPlayerState = 'idle' | 'looking' | 'none' | 'playing' | 'ended' | 'failed';

export interface RecordingSnapshot {
  state: RecordingPlayerState;
  id: string | null;
  currentTime: number;
  duration: number;
  /** The element's `ended`: playback reached the end of the VOD playlist (ENDLIST). */
  ended: boolean;
  fatalErrors: string[];
  /** hls.js' errors that it recovers from itself (the last 20). */
  errors: string[];
  /** The element's buffered ranges, [start, end] in seconds. */
  buffered: [number, number][];
  readyState: number;
  paused: boolean;
}

export type RecordingPlayerEvents = { statechange: [state: RecordingPlayerState] };

export interface RecordingPlayerOptions {
  /** Times the latest recording is asked for (it is finalized just as the live ends). Default 10. */
  attempts?: number;
  /** Between attempts, ms. Default 1000. */
  retryMs?: number;
}

/**
 * Plays a room's latest recording (VOD HLS) once its live broadcast has ended: a plain hls.js
 * player (not low-latency) in its own <video data-testid="recording-video">, over the live
 * view. `destroy()` stops looking, detaches hls.js and removes the element. Idempotent.
 */
export class RecordingPlayer extends EventEmitter<RecordingPlayerEvents> {
  private readonly root: HTMLElement;
  private readonly room: string;
  private readonly opts: Required<RecordingPlayerOptions>;
  private stateValue: RecordingPlayerState = 'idle';
  private hls: Hls | undefined;
  private figure: HTMLElement | undefined;
  private video: HTMLVideoElement | undefined;
  private recording: LatestRecording | undefined;
  private readonly fatalErrors: string[] = [];
  private readonly errors: string[] = [];
  private abort: AbortController | undefined;

  constructor(root: HTMLElement, room: string, options: RecordingPlayerOptions = {}) {
    super();
    this.root = root;
    this.room = room;
    this.opts = { attempts: options.attempts ?? 10, retryMs: options.retryMs ?? 1000 };
  }

  get state(): RecordingPlayerState {
    return this.stateValue;
  }

  get videoElement(): HTMLVideoElement | undefined {
    return this.video;
  }

  get hlsInstance(): Hls | undefined {
    return this.hls;
  }

  snapshot(): RecordingSnapshot {
    const v = this.video;
    return {
      state: this.stateValue,
      id: this.recording?.id ?? null,
      currentTime: v?.currentTime ?? 0,
      duration: v && Number.isFinite(v.duration) ? v.duration : 0,
      ended: v?.ended ?? false,
      fatalErrors: [...this.fatalErrors],
      errors: [...this.errors],
      buffered: v ? Array.from({ length: v.buffered.length }, (_, i): [number, number] => [v.buffered.start(i), v.buffered.end(i)]) : [],
      readyState: v?.readyState ?? 0,
      paused: v?.paused ?? true,
    };
  }

  /** Finds the latest recording and plays it from its start; `none` if the room has none. */
  async playLatest(): Promise<void> {
    if (this.abort) return;
    const abort = new AbortController();
    this.abort = abort;
    this.setState('looking');
    const latest = await this.findLatest(abort.signal);
    if (abort.signal.aborted) return;
    if (!latest) return this.setState('none');
    this.recording = latest;
    this.attach(latest);
  }

  destroy(): void {
    this.abort?.abort();
    this.abort = undefined;
    const hls = this.hls;
    this.hls = undefined;
    if (hls) {
      hls.off(Events.ERROR, this.onError);
      hls.destroy();
    }
    releaseVideo(this.video, this.figure);
    this.figure = undefined;
    this.video = undefined;
    this.removeAllListeners();
  }

  private async findLatest(signal: AbortSignal): Promise<LatestRecording | undefined> {
    const url = `/hls/${encodeURIComponent(this.room)}/recordings/latest`;
    for (let i = 0; i < this.opts.attempts && !signal.aborted; i++) {
      try {
        const res = await fetch(url, { signal, cache: 'no-store' });
        if (res.ok) return (await res.json()) as LatestRecording;
      } catch {
        if (signal.aborted) return undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, this.opts.retryMs));
    }
    return undefined;
  }

  private attach(recording: LatestRecording): void {
    const video = h('video', { 'data-testid': 'recording-video', playsinline: '', controls: '' });
    video.muted = true; // autoplay allows muted playback only; the controls can unmute
    video.autoplay = true;
    const started = new Date(recording.startedAt);
    const caption = h('figcaption', {}, [`Recording of ${Number.isNaN(started.getTime()) ? 'the broadcast' : started.toLocaleString()}`]);
    const figure = h('figure', { class: 'recording-player', 'data-testid': 'recording-player' }, [video, caption]);
    this.root.append(figure);
    this.figure = figure;
    this.video = video;
    video.addEventListener('playing', () => this.setState('playing'));
    video.addEventListener('ended', () => this.setState('ended'));
    const hls = new Hls({ startPosition: 0 });
    this.hls = hls;
    hls.on(Events.ERROR, this.onError);
    hls.attachMedia(video);
    hls.loadSource(recording.playlist);
  }

  private readonly onError = (_event: string, data: ErrorData): void => {
    const text = `${data.details}: ${data.error?.message ?? data.reason ?? ''}`;
    if (!data.fatal) {
      this.errors.push(text);
      if (this.errors.length > 20) this.errors.shift();
      return;
    }
    this.fatalErrors.push(text);
    this.setState('failed');
  };

  private setState(state: RecordingPlayerState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.emit('statechange', state);
  }
}
