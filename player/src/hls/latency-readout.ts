/**
 * Live latency of the picture on screen: wall clock now − PROGRAM-DATE-TIME of the playing
 * position (hls.js `playingDate`: the PDT of the playing fragment plus how far into it the
 * playhead is). The packager stamps PDT on the server's clock; viewer and server share one
 * clock only approximately (NTP), which is good enough for a readout and exact on one machine.
 *
 * Shown as "latency 1.4 s" in `el` (if given), refreshed every `intervalMs`.
 */
export class LatencyReadout {
  private readonly el: HTMLElement | undefined;
  private readonly playingDate: () => Date | null;
  private timer: ReturnType<typeof setInterval> | undefined;
  private value: number | null = null;

  constructor(playingDate: () => Date | null, options: { el?: HTMLElement; intervalMs?: number } = {}) {
    this.playingDate = playingDate;
    this.el = options.el;
    const intervalMs = options.intervalMs ?? 250;
    if (!(intervalMs > 0)) throw new TypeError('LatencyReadout: intervalMs must be > 0');
    this.timer = setInterval(() => this.refresh(), intervalMs);
  }

  /** Latest latency in seconds, or null before the first dated frame plays. */
  get latencySec(): number | null {
    return this.value;
  }

  refresh(): number | null {
    const date = this.playingDate();
    this.value = date ? (Date.now() - date.getTime()) / 1000 : null;
    if (this.el) this.el.textContent = this.value === null ? '' : `latency ${this.value.toFixed(1)} s`;
    return this.value;
  }

  /** Stops refreshing and clears the text. Idempotent. */
  destroy(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.value = null;
    if (this.el) this.el.textContent = '';
  }
}
