import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BroadcastManager } from '../broadcast/BroadcastManager.ts';
import type { EngineStats, MediaEngine } from '../engine/EngineTypes.ts';
import type { RoomRegistry } from '../stage/RoomRegistry.ts';
import type { Storage } from '../storage/Storage.ts';
import type { WebhookDispatcher } from '../webhooks/WebhookDispatcher.ts';

/** What the metrics read; every source is optional, so a partial wiring still scrapes. */
export interface MetricsSources {
  registry?: Pick<RoomRegistry, 'list' | 'size'>;
  engine?: Pick<MediaEngine, 'stats' | 'on' | 'off'>;
  broadcasts?: Pick<BroadcastManager, 'on' | 'off' | 'packager' | 'stats' | 'status'>;
  webhooks?: Pick<WebhookDispatcher, 'stats' | 'on' | 'off'>;
}

export interface MetricsOptions {
  /** Prefix of every metric name. Default `stagecast_`. */
  prefix?: string;
  /** Also export Node's process metrics (CPU, memory, event loop lag, GC). Default true. */
  processMetrics?: boolean;
}

/** Upload latency buckets, seconds: local disk is ~1 ms, S3 tens to hundreds of ms. */
const UPLOAD_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The engine is asked once per scrape, however many metrics read it. */
const ENGINE_SAMPLE_MS = 250;

/**
 * The service's Prometheus metrics on their own prom-client Registry. Gauges (rooms,
 * participants, publishers, webhook queue) are read at scrape time; counters follow events
 * (HLS parts and segments, engine errors, webhook failures) or the engine's cumulative totals
 * (forwarded packets, CPU). `observe()` subscribes to the running service; `instrumentStorage`
 * wraps the HLS storage to time uploads.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly prefix: string;
  private readonly detachers: (() => void)[] = [];
  private sources: MetricsSources = {};
  private engineSample: { at: number; value: Promise<EngineStats | undefined> } | undefined;
  private readonly lastTotals = { packets: 0, bytes: 0, cpuMicros: 0 };
  private readonly lastRestarts = new Map<string, number>();
  private readonly followedPackagers = new WeakSet<object>();
  private closed = false;

  readonly forwardedPackets: Counter;
  readonly forwardedBytes: Counter;
  readonly engineCpu: Counter;
  readonly engineErrors: Counter<'kind'>;
  readonly hlsParts: Counter<'rendition'>;
  readonly hlsSegments: Counter<'rendition'>;
  readonly hlsInputErrors: Counter<'rendition'>;
  readonly uploadSeconds: Histogram<'op' | 'kind' | 'result'>;
  readonly ffmpegRestarts: Counter;
  readonly broadcastsStarted: Counter;
  readonly webhookAttemptFailures: Counter;
  readonly webhookAbandoned: Counter;
  readonly webhookDelivered: Counter;

  constructor(opts: MetricsOptions = {}) {
    const p = (this.prefix = opts.prefix ?? 'stagecast_');
    const registers = [this.registry];
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: p });

    new Gauge({
      name: `${p}rooms`,
      help: 'Rooms open on this node.',
      registers,
      collect: () => {
        const r = this.sources.registry;
        if (r) this.gauge(`${p}rooms`).set(r.size);
      },
    });
    new Gauge({
      name: `${p}participants`,
      help: 'Participants in rooms on this node, by how they connected.',
      labelNames: ['transport'],
      registers,
      collect: () => {
        const r = this.sources.registry;
        if (!r) return;
        const counts: Record<string, number> = { signaling: 0, whip: 0, whep: 0 };
        for (const room of r.list()) for (const p of room.listParticipants()) counts[p.transport] = (counts[p.transport] ?? 0) + 1;
        const g = this.gauge(`${p}participants`);
        for (const [transport, n] of Object.entries(counts)) g.set({ transport }, n);
      },
    });
    new Gauge({
      name: `${p}audience`,
      help: 'Participants in rooms on this node, by current role (presenter, guest, moderator, viewer): the audience count rooms announce.',
      labelNames: ['role'],
      registers,
      collect: () => {
        const r = this.sources.registry;
        if (!r) return;
        const totals: Record<string, number> = { presenter: 0, guest: 0, moderator: 0, viewer: 0 };
        for (const room of r.list()) {
          const counts = room.audience();
          for (const role of Object.keys(totals)) totals[role]! += counts[role as keyof typeof counts];
        }
        const g = this.gauge(`${p}audience`);
        for (const [role, n] of Object.entries(totals)) g.set({ role }, n);
      },
    });
    for (const [name, help, pick] of [
      ['publishers', 'Publisher legs in the media engine.', (s: EngineStats) => s.publishers],
      ['subscribers', 'Subscriber legs in the media engine (WebRTC stage members and WHEP players).', (s: EngineStats) => s.subscribers],
    ] as const) {
      new Gauge({
        name: `${p}${name}`,
        help,
        registers,
        collect: async () => {
          const s = await this.sampleEngine();
          if (s) this.gauge(`${p}${name}`).set(pick(s));
        },
      });
    }
    this.forwardedPackets = new Counter({
      name: `${p}forwarded_packets_total`,
      help: 'RTP packets the media engine sent to subscribers.',
      registers,
      collect: async () => void (await this.sampleEngine()),
    });
    this.forwardedBytes = new Counter({
      name: `${p}forwarded_bytes_total`,
      help: 'RTP bytes the media engine sent to subscribers (bitrate: rate(...) * 8). Stays 0 until the engine reports bytesForwarded.',
      registers,
      collect: async () => void (await this.sampleEngine()),
    });
    this.engineCpu = new Counter({
      name: `${p}engine_cpu_seconds_total`,
      help: 'CPU time the media engine (its thread or process) used.',
      registers,
      collect: async () => void (await this.sampleEngine()),
    });
    this.engineErrors = new Counter({
      name: `${p}engine_errors_total`,
      help: 'Media engine failures: died (engine lost, every room closed), leg_failed (a leg closed by ICE/DTLS failure), ice_timeout (a leg closed because its ICE did not connect in time).',
      labelNames: ['kind'],
      registers,
    });
    this.engineErrors.inc({ kind: 'died' }, 0);
    this.engineErrors.inc({ kind: 'leg_failed' }, 0);
    this.engineErrors.inc({ kind: 'ice_timeout' }, 0);
    this.hlsParts = new Counter({ name: `${p}hls_parts_total`, help: 'LL-HLS parts published.', labelNames: ['rendition'], registers });
    this.hlsSegments = new Counter({ name: `${p}hls_segments_total`, help: 'HLS segments completed.', labelNames: ['rendition'], registers });
    this.hlsInputErrors = new Counter({
      name: `${p}hls_input_errors_total`,
      help: 'Renditions dropped because the packager could not parse their fMP4 input.',
      labelNames: ['rendition'],
      registers,
    });
    this.uploadSeconds = new Histogram({
      name: `${p}storage_upload_seconds`,
      help: 'Time to store one HLS object (op put or delete; kind playlist, init, segment, part, other; result ok or error).',
      labelNames: ['op', 'kind', 'result'],
      buckets: UPLOAD_BUCKETS,
      registers,
    });
    this.ffmpegRestarts = new Counter({
      name: `${p}ffmpeg_restarts_total`,
      help: 'Restarts of broadcast ffmpeg processes (crash, stall, or a stage change).',
      registers,
      collect: () => this.sampleRestarts(),
    });
    this.broadcastsStarted = new Counter({ name: `${p}broadcasts_started_total`, help: 'HLS broadcasts started.', registers });
    new Gauge({
      name: `${p}broadcasts_live`,
      help: 'HLS broadcasts running.',
      registers,
      collect: () => {
        const { registry, broadcasts } = this.sources;
        if (!registry || !broadcasts) return;
        this.gauge(`${p}broadcasts_live`).set(registry.list().filter((r) => broadcasts.status(r.id)?.state === 'live').length);
      },
    });
    new Gauge({
      name: `${p}webhook_queue_depth`,
      help: 'Webhook deliveries waiting in the outbox (including in flight).',
      registers,
      collect: () => {
        const w = this.sources.webhooks;
        if (w) this.gauge(`${p}webhook_queue_depth`).set(w.stats().queueDepth);
      },
    });
    this.webhookAttemptFailures = new Counter({ name: `${p}webhook_attempt_failures_total`, help: 'Webhook delivery attempts that failed (each is retried until given up).', registers });
    this.webhookAbandoned = new Counter({ name: `${p}webhook_abandoned_total`, help: 'Webhook deliveries given up after the retry window.', registers });
    this.webhookDelivered = new Counter({ name: `${p}webhook_delivered_total`, help: 'Webhook deliveries that succeeded.', registers });
  }

  /** Prometheus text exposition format. */
  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Follows the running service. Call once; `close()` removes every listener it added. */
  observe(sources: MetricsSources): void {
    if (this.closed) throw new Error('metrics closed');
    this.sources = { ...this.sources, ...sources };
    const { engine, broadcasts, webhooks } = sources;
    if (engine) {
      const died = () => this.engineErrors.inc({ kind: 'died' });
      const legclosed = (_room: string, _peer: string, _leg: string, reason: string) => {
        if (reason === 'transport_failed') this.engineErrors.inc({ kind: 'leg_failed' });
        else if (reason === 'ice_timeout') this.engineErrors.inc({ kind: 'ice_timeout' });
      };
      engine.on('died', died);
      engine.on('legclosed', legclosed);
      this.detachers.push(() => {
        engine.off('died', died);
        engine.off('legclosed', legclosed);
      });
    }
    if (broadcasts) {
      const started = (roomId: string) => {
        this.broadcastsStarted.inc();
        this.lastRestarts.set(roomId, 0);
        const packager = broadcasts.packager(roomId);
        if (!packager || this.followedPackagers.has(packager)) return;
        this.followedPackagers.add(packager);
        // The packager's listeners go with it when it closes.
        packager.on('part', (rendition) => this.hlsParts.inc({ rendition }));
        packager.on('segment', (rendition) => this.hlsSegments.inc({ rendition }));
        packager.on('inputerror', (rendition) => this.hlsInputErrors.inc({ rendition }));
      };
      // The ended broadcast's stats are still there: count its last restarts before they go.
      const stopped = (roomId: string) => this.sampleRestarts([roomId]);
      broadcasts.on('broadcaststarted', started);
      broadcasts.on('broadcaststopped', stopped);
      this.detachers.push(() => {
        broadcasts.off('broadcaststarted', started);
        broadcasts.off('broadcaststopped', stopped);
      });
    }
    if (webhooks) {
      const failed = () => this.webhookAttemptFailures.inc();
      const abandoned = () => this.webhookAbandoned.inc();
      const delivered = () => this.webhookDelivered.inc();
      webhooks.on('attemptfailed', failed);
      webhooks.on('abandoned', abandoned);
      webhooks.on('delivered', delivered);
      this.detachers.push(() => {
        webhooks.off('attemptfailed', failed);
        webhooks.off('abandoned', abandoned);
        webhooks.off('delivered', delivered);
      });
    }
  }

  /** A Storage that records every put and delete in `storage_upload_seconds`. */
  instrumentStorage(storage: Storage): Storage {
    const timed = async <T>(op: 'put' | 'delete', key: string, run: () => Promise<T>): Promise<T> => {
      const end = this.uploadSeconds.startTimer({ op, kind: objectKind(key) });
      try {
        const result = await run();
        end({ result: 'ok' });
        return result;
      } catch (err) {
        end({ result: 'error' });
        throw err;
      }
    };
    return {
      put: (key, body, contentType, cacheControl) => timed('put', key, () => storage.put(key, body, contentType, cacheControl)),
      delete: (key) => timed('delete', key, () => storage.delete(key)),
      get: (key) => storage.get(key),
      list: (prefix) => storage.list(prefix),
      close: () => storage.close(),
    };
  }

  /** Removes listeners. Idempotent; the registry keeps its last values. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const d of this.detachers.splice(0)) d();
    this.sources = {};
  }

  private gauge(name: string): Gauge {
    return this.registry.getSingleMetric(name) as Gauge;
  }

  /** One engine.stats() per scrape; its cumulative totals advance the counters. */
  private sampleEngine(): Promise<EngineStats | undefined> {
    const engine = this.sources.engine;
    if (!engine) return Promise.resolve(undefined);
    const now = Date.now();
    if (this.engineSample && now - this.engineSample.at < ENGINE_SAMPLE_MS) return this.engineSample.value;
    const value = engine.stats().then(
      (s) => {
        const bytes = (s as EngineStats & { bytesForwarded?: number }).bytesForwarded ?? 0;
        this.advance(this.forwardedPackets, 'packets', s.packetsForwarded);
        this.advance(this.forwardedBytes, 'bytes', bytes);
        const cpuBefore = this.lastTotals.cpuMicros;
        if (s.cpuMicros > cpuBefore) this.engineCpu.inc((s.cpuMicros - cpuBefore) / 1e6);
        this.lastTotals.cpuMicros = s.cpuMicros;
        return s;
      },
      () => undefined,
    );
    this.engineSample = { at: now, value };
    return value;
  }

  /** Adds the growth of an external cumulative total (a restarted engine starts again from 0). */
  private advance(counter: Counter, key: 'packets' | 'bytes', total: number): void {
    const last = this.lastTotals[key];
    if (total > last) counter.inc(total - last);
    this.lastTotals[key] = total;
  }

  private sampleRestarts(roomIds?: string[]): void {
    const { registry, broadcasts } = this.sources;
    if (!broadcasts) return;
    for (const id of roomIds ?? registry?.list().map((r) => r.id) ?? []) {
      const restarts = broadcasts.stats(id)?.restarts;
      if (restarts === undefined) continue;
      const last = this.lastRestarts.get(id) ?? 0;
      if (restarts > last) this.ffmpegRestarts.inc(restarts - last);
      this.lastRestarts.set(id, restarts);
    }
  }
}

function objectKind(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1);
  if (name.endsWith('.m3u8')) return 'playlist';
  if (name.startsWith('init-')) return 'init';
  if (name.startsWith('seg-')) return 'segment';
  if (name.startsWith('part-')) return 'part';
  return 'other';
}

/** The service's metrics. One per process (its registry is not the global one). */
export function createMetrics(opts: MetricsOptions = {}): ServiceMetrics {
  return new ServiceMetrics(opts);
}
