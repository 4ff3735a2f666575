/**
 * The program's output bitrate per rendition, from the LL-HLS parts as the packager publishes
 * them: bytes of the parts whose publication falls in the last `windowMs`, over the media
 * duration those parts cover. Measured on media time, not on wall time, so a burst of parts
 * after a restart does not read as a spike.
 */
export interface RenditionBitrate {
  name: string;
  /** Bits per second of media over the window; 0 before the first part. */
  bitsPerSecond: number;
}

interface Sample {
  at: number;
  bytes: number;
  durationSec: number;
}

export class BitrateMeter {
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly samples = new Map<string, Sample[]>();
  private lastAt: number | undefined;

  /** `windowMs`: how much recent output is averaged. Default 5000. */
  constructor(options: { windowMs?: number; now?: () => number } = {}) {
    this.windowMs = options.windowMs ?? 5000;
    if (!(this.windowMs > 0)) throw new TypeError('BitrateMeter: windowMs must be > 0');
    this.now = options.now ?? Date.now;
  }

  /** A part of `bytes` covering `durationSec` of media was published for `rendition`. */
  add(rendition: string, bytes: number, durationSec: number): void {
    const at = this.now();
    this.lastAt = at;
    let list = this.samples.get(rendition);
    if (!list) this.samples.set(rendition, (list = []));
    list.push({ at, bytes, durationSec });
    this.prune(list, at);
  }

  /** Milliseconds since the last part of any rendition; undefined before the first. */
  get lastPartAgeMs(): number | undefined {
    return this.lastAt === undefined ? undefined : this.now() - this.lastAt;
  }

  read(): RenditionBitrate[] {
    const at = this.now();
    return [...this.samples].map(([name, list]) => {
      this.prune(list, at);
      const bytes = list.reduce((n, s) => n + s.bytes, 0);
      const seconds = list.reduce((n, s) => n + s.durationSec, 0);
      return { name, bitsPerSecond: seconds > 0 ? Math.round((bytes * 8) / seconds) : 0 };
    });
  }

  private prune(list: Sample[], at: number): void {
    while (list.length > 0 && at - list[0]!.at > this.windowMs) list.shift();
  }
}
