export interface LevelMeterConfig {
  /** How often the level is measured and reported, ms. Default 50. */
  intervalMs: number;
  /** Level reported for silence, dBFS; the scale runs from here to 0 dBFS. Default -60. */
  floorDb: number;
  /** Analyser FFT size (samples per measurement window). Default 1024. */
  fftSize: number;
}

export const defaultLevelMeterConfig = (): LevelMeterConfig => ({ intervalMs: 50, floorDb: -60, fftSize: 1024 });

/**
 * Microphone level from a WebAudio AnalyserNode: the RMS of each window, in dBFS, mapped
 * to 0..1 between `floorDb` and 0 dBFS and handed to `onLevel`. The analyser is not connected
 * to the speakers: the presenter must not hear themselves.
 */
export class LevelMeter {
  readonly config: LevelMeterConfig;
  private readonly context: AudioContext;
  private readonly analyser: AnalyserNode;
  private readonly samples: Float32Array<ArrayBuffer>;
  private source: MediaStreamAudioSourceNode | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly onLevel: (level: number, db: number) => void;

  constructor(onLevel: (level: number, db: number) => void, config: Partial<LevelMeterConfig> = {}) {
    this.config = { ...defaultLevelMeterConfig(), ...config };
    if (!(this.config.floorDb < 0)) throw new TypeError('LevelMeter: floorDb must be below 0');
    this.onLevel = onLevel;
    this.context = new AudioContext();
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = this.config.fftSize;
    this.samples = new Float32Array(this.analyser.fftSize);
  }

  /** Measures `track` from now on (replaces the previous one). */
  setTrack(track: MediaStreamTrack | undefined): void {
    this.source?.disconnect();
    this.source = undefined;
    if (track) {
      this.source = this.context.createMediaStreamSource(new MediaStream([track]));
      this.source.connect(this.analyser);
    }
    // Without a user gesture the context may start suspended; resume() is retried by start().
    void this.context.resume().catch(() => {});
    this.timer ??= setInterval(() => this.measure(), this.config.intervalMs);
  }

  /** Resumes a context that autoplay policy left suspended (call from a click). */
  resume(): Promise<void> {
    return this.context.resume();
  }

  destroy(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.source?.disconnect();
    this.source = undefined;
    void this.context.close().catch(() => {});
  }

  private measure(): void {
    if (!this.source) return this.onLevel(0, -Infinity);
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const s of this.samples) sum += s * s;
    const rms = Math.sqrt(sum / this.samples.length);
    const db = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
    const level = Math.min(1, Math.max(0, 1 - db / this.config.floorDb));
    this.onLevel(level, db);
  }
}
