/**
 * Whether the video is really playing: the playhead must advance. `playing` events alone lie
 * in both directions (a stalled MSE buffer may never fire `waiting`; `playing` fires before the
 * first frame). Checks `currentTime` every `checkMs`; no progress for `stallAfterMs` while the
 * element is not paused is a stall. `ended` comes from the element.
 */
export type PlaybackState = 'starting' | 'playing' | 'stalled' | 'ended';

export class PlaybackMonitor {
  private readonly video: HTMLVideoElement;
  private readonly stallAfterMs: number;
  private readonly onChange: (state: PlaybackState) => void;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastTime = -1;
  private lastProgressAt = 0;
  private stateValue: PlaybackState = 'starting';

  constructor(video: HTMLVideoElement, options: { stallAfterMs: number; checkMs?: number }, onChange: (state: PlaybackState) => void) {
    this.video = video;
    this.stallAfterMs = options.stallAfterMs;
    this.onChange = onChange;
    this.lastProgressAt = performance.now();
    video.addEventListener('ended', this.onEnded);
    this.timer = setInterval(this.check, options.checkMs ?? 100);
  }

  get state(): PlaybackState {
    return this.stateValue;
  }

  /** Stops watching and removes the listener it added. Idempotent. */
  destroy(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.video.removeEventListener('ended', this.onEnded);
  }

  private readonly check = (): void => {
    const now = performance.now();
    const t = this.video.currentTime;
    if (t !== this.lastTime && this.lastTime >= 0 && t > this.lastTime && !this.video.paused) {
      this.lastProgressAt = now;
      this.set('playing');
    } else if (this.stateValue === 'playing' && !this.video.ended && now - this.lastProgressAt > this.stallAfterMs) {
      this.set('stalled');
    }
    this.lastTime = t;
  };

  private readonly onEnded = (): void => this.set('ended');

  private set(state: PlaybackState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.onChange(state);
  }
}
