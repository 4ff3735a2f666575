/**
 * Samples what the viewer sees during a switch: every `intervalMs`, the visible video element
 * is drawn into a small canvas; the sample records its mean luma (a black frame is one below
 * `blackLuma`) and whether the picture changed since the previous sample (frozen when not).
 * An element with no frame to draw counts as black when it has not shown one since it was
 * (re)loaded, or when there is no element at all: the page then shows the tile's black
 * background. An element that showed a frame and now lacks data (a buffer underrun: readyState
 * back to HAVE_METADATA) keeps showing that frame, so it is sampled as that frame again: frozen,
 * with `stalled` set. A reload (`emptied`) clears what the element has shown.
 */
export interface FrameSample {
  /** Index into the switch records this sample belongs to. */
  switchIndex: number;
  /** Wall clock, ms. */
  at: number;
  /** Which view was visible. */
  view: 'hls' | 'webrtc' | 'none';
  /** Mean luma 0..255 (BT.601) of the visible element; 0 when it had no frame. */
  luma: number;
  black: boolean;
  /** False when the picture is the same as the previous sample's (a frozen frame). */
  changed: boolean;
  /** Which view played sound at that moment, when the page says (`both` is a bug). */
  audible?: string;
  /** The element had no current frame but still showed its last one (sampled as frozen). */
  stalled?: boolean;
}

/** What the page shows at a given moment. */
export interface VisibleView {
  view: 'hls' | 'webrtc';
  video: HTMLVideoElement | undefined;
  audible?: string;
}

export interface FrameSamplerConfig {
  /** Default 100 ms. */
  intervalMs: number;
  /** Below this mean luma a frame is black. Default 16. */
  blackLuma: number;
  /**
   * Mean absolute per-pixel luma difference above which a sample counts as changed. Default
   * 0.02: a re-shown frame is identical (0), while a small moving object on a still background
   * (the fake camera) changes the 32×18 thumbnail by little.
   */
  changeThreshold: number;
  /** Most samples kept (oldest dropped first). Default 5000. */
  maxSamples: number;
}

export const defaultFrameSamplerConfig = (): FrameSamplerConfig => ({ intervalMs: 100, blackLuma: 16, changeThreshold: 0.02, maxSamples: 5000 });

const W = 32;
const H = 18;

export class FrameSampler {
  readonly config: FrameSamplerConfig;
  readonly samples: FrameSample[] = [];
  private readonly visible: () => VisibleView;
  private readonly ctx: CanvasRenderingContext2D;
  private timer: ReturnType<typeof setInterval> | undefined;
  private previous: Uint8Array | undefined;
  private switchIndex = -1;
  /** Last frame each element showed (luma, pixels); dropped when the element is emptied. */
  private readonly shown = new WeakMap<HTMLVideoElement, { luma: number; pixels: Uint8Array }>();
  private readonly watched = new Set<HTMLVideoElement>();

  constructor(visible: () => VisibleView, config: Partial<FrameSamplerConfig> = {}) {
    this.config = { ...defaultFrameSamplerConfig(), ...config };
    if (!(this.config.intervalMs > 0)) throw new TypeError('FrameSampler: intervalMs must be > 0');
    this.visible = visible;
    const canvas = document.createElement('canvas');
    canvas.width = W;
    canvas.height = H;
    this.ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Starts sampling for switch `switchIndex` (one sample at once). Restarts if running. */
  start(switchIndex: number): void {
    this.stop();
    this.switchIndex = switchIndex;
    this.previous = undefined;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.config.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one sample now (also outside a running period, e.g. right after a swap). */
  sample(): FrameSample {
    const { view, video, audible } = this.visible();
    let luma = 0;
    let pixels: Uint8Array | undefined;
    let stalled = false;
    if (video) this.watch(video);
    const last = video ? this.shown.get(video) : undefined;
    if (video && (video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || video.videoWidth === 0) && last) {
      stalled = true;
      luma = last.luma;
      pixels = last.pixels;
    } else if (video && video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && video.videoWidth > 0) {
      this.ctx.drawImage(video, 0, 0, W, H);
      const data = this.ctx.getImageData(0, 0, W, H).data;
      pixels = new Uint8Array(W * H);
      let sum = 0;
      for (let i = 0; i < W * H; i++) {
        const y = 0.299 * data[i * 4]! + 0.587 * data[i * 4 + 1]! + 0.114 * data[i * 4 + 2]!;
        pixels[i] = y;
        sum += y;
      }
      luma = sum / (W * H);
      this.shown.set(video, { luma, pixels });
    }
    let changed = true;
    if (pixels && this.previous) {
      let diff = 0;
      for (let i = 0; i < pixels.length; i++) diff += Math.abs(pixels[i]! - this.previous[i]!);
      changed = diff / pixels.length > this.config.changeThreshold;
    } else if (!pixels && !this.previous) {
      changed = false;
    }
    this.previous = pixels;
    const sample: FrameSample = {
      switchIndex: this.switchIndex,
      at: Date.now(),
      view: video ? view : 'none',
      luma: Math.round(luma * 10) / 10,
      black: luma < this.config.blackLuma,
      changed,
      ...(audible !== undefined ? { audible } : {}),
      ...(stalled ? { stalled } : {}),
    };
    this.samples.push(sample);
    if (this.samples.length > this.config.maxSamples) this.samples.shift();
    return sample;
  }

  destroy(): void {
    this.stop();
    for (const video of this.watched) video.removeEventListener('emptied', this.onEmptied);
    this.watched.clear();
  }

  private watch(video: HTMLVideoElement): void {
    if (this.watched.has(video)) return;
    // Elements are few and short-lived (one per view start); forget detached ones.
    for (const old of this.watched) {
      if (!old.isConnected) {
        old.removeEventListener('emptied', this.onEmptied);
        this.watched.delete(old);
      }
    }
    this.watched.add(video);
    video.addEventListener('emptied', this.onEmptied);
  }

  private readonly onEmptied = (ev: Event): void => {
    this.shown.delete(ev.target as HTMLVideoElement);
  };
}
