/**
 * The console's broadcast health: asks the server for it (`broadcastHealth`, moderators only)
 * every `intervalMs` and shows state, layout, output bitrate per rendition, ffmpeg restarts and
 * crashes, the age of the last LL-HLS part, and the latency of the program as the audience
 * sees it (measured by the console's own program preview, the `latency` function).
 *
 * Asking rather than being told: one request per console every few seconds costs the server
 * nothing it must schedule, and the console's socket already carries the moderator's token.
 *
 * Test hooks: `data-testid="broadcast-health"` on the list, with `health-state`, `health-layout`,
 * `health-bitrate` (`data-bps` the top rendition's bits/s), `health-restarts` (`data-restarts`),
 * `health-part-age`, `health-latency` (`data-latency-ms`).
 */
import type { SignalingClient } from '../signaling/signaling-client.ts';
import type { BroadcastHealthInfo } from '../signaling/signaling-types.ts';
import { h } from '../ui/dom.ts';
import '../ui/screen-share.css';

export class BroadcastHealthView {
  private readonly signaling: SignalingClient;
  private readonly latency: () => number | null;
  private readonly intervalMs: number;
  private readonly fields: Record<'state' | 'layout' | 'bitrate' | 'restarts' | 'partAge' | 'latency', HTMLElement>;
  private timer: ReturnType<typeof setInterval> | undefined;
  private latest: BroadcastHealthInfo | null = null;

  /**
   * Renders into `root` (emptied). `latency`: the program's latency in seconds, null while
   * unknown. `intervalMs`: how often it asks. Default 2000.
   */
  constructor(signaling: SignalingClient, root: HTMLElement, latency: () => number | null, options: { intervalMs?: number } = {}) {
    this.signaling = signaling;
    this.latency = latency;
    this.intervalMs = options.intervalMs ?? 2000;
    if (!(this.intervalMs > 0)) throw new TypeError('BroadcastHealthView: intervalMs must be > 0');
    const dd = (testId: string) => h('dd', { 'data-testid': testId }, ['–']);
    this.fields = {
      state: dd('health-state'),
      layout: dd('health-layout'),
      bitrate: dd('health-bitrate'),
      restarts: dd('health-restarts'),
      partAge: dd('health-part-age'),
      latency: dd('health-latency'),
    };
    const row = (label: string, el: HTMLElement) => [h('dt', {}, [label]), el];
    root.replaceChildren(
      h('dl', { class: 'broadcast-health', 'data-testid': 'broadcast-health' }, [
        ...row('State', this.fields.state),
        ...row('Layout', this.fields.layout),
        ...row('Bitrate', this.fields.bitrate),
        ...row('ffmpeg restarts', this.fields.restarts),
        ...row('Last part', this.fields.partAge),
        ...row('Latency', this.fields.latency),
      ]),
    );
  }

  /** The last health the server sent (null: no broadcast, or not asked yet). */
  get health(): BroadcastHealthInfo | null {
    return this.latest;
  }

  /** Asks now and then every `intervalMs`. Idempotent. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    void this.refresh();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async refresh(): Promise<void> {
    if (this.signaling.state !== 'joined') return;
    try {
      this.latest = (await this.signaling.request({ type: 'broadcastHealth' })).health;
    } catch {
      // Shown as it was; the next round asks again.
      return;
    }
    this.render();
  }

  private render(): void {
    const health = this.latest;
    const f = this.fields;
    f.state.textContent = health?.state ?? 'none';
    f.layout.textContent = health?.layout ?? '–';
    const renditions = health?.renditions ?? [];
    f.bitrate.textContent = renditions.length ? renditions.map((r) => `${r.name} ${(r.bitsPerSecond / 1e6).toFixed(2)} Mb/s`).join(' · ') : '–';
    f.bitrate.dataset.bps = String(renditions[0]?.bitsPerSecond ?? 0);
    f.restarts.textContent = health ? `${health.ffmpegRestarts} (${health.ffmpegCrashes} crashes)` : '–';
    f.restarts.dataset.restarts = String(health?.ffmpegRestarts ?? 0);
    f.partAge.textContent = health?.lastPartAgeMs != null ? `${health.lastPartAgeMs} ms ago` : '–';
    const latency = this.latency();
    f.latency.textContent = latency === null ? '–' : `${latency.toFixed(1)} s`;
    f.latency.dataset.latencyMs = latency === null ? '' : String(Math.round(latency * 1000));
  }
}
