import { createWorker } from 'mediasoup';
import type { WebRtcServer, Worker, WorkerLogLevel } from 'mediasoup/types';
import { EnhancedEventEmitter } from '../../core/EnhancedEventEmitter.ts';
import { logger } from '../../core/logger.ts';
import type { MediasoupEngineOptions } from './options.ts';

const log = logger.child({ mod: 'engine.mediasoup' });

/** One worker process, its WebRtcServer (one UDP port), and how loaded it is. */
export interface WorkerSlot {
  readonly index: number;
  worker: Worker;
  webRtcServer: WebRtcServer;
  /** WebRtcServer port of this slot; a replacement worker listens on the same one. */
  readonly port: number;
  /** Consumers placed on this worker's routers, counted by the rooms. */
  consumers: number;
  /** Routers (rooms or piped room parts) on this worker. */
  routers: number;
  /**
   * Incremented the moment the slot's worker dies: routers and counts of an older generation
   * belong to a dead process.
   */
  generation: number;
}

export type WorkerPoolEvents = {
  /** The slot's worker died (its routers and transports are already closed). Emitted at once. */
  workerdied: [slot: WorkerSlot, error: string];
  /** A new worker runs in the slot again (after `workerdied`), or none could be started. */
  workerreplaced: [slot: WorkerSlot, replaced: boolean];
};

/** Attempts to start a replacement worker before the slot is given up. */
const REPLACE_ATTEMPTS = 5;

/**
 * mediasoup's worker processes: one per core by default, each with one WebRtcServer, so every
 * WebRTC transport of that worker shares a single UDP port. A worker that dies is replaced in
 * its slot (same port); the rooms that had routers on it are told through `workerdied` and
 * rebuild themselves.
 *
 * Ports: slot i's WebRtcServer listens on MEDIA_PORT_RANGE's first port + i; plain and pipe
 * transports take ports from the rest of the range.
 */
export class WorkerPool extends EnhancedEventEmitter<WorkerPoolEvents> {
  readonly slots: WorkerSlot[] = [];
  private readonly opts: MediasoupEngineOptions;
  private closed = false;

  private constructor(opts: MediasoupEngineOptions) {
    super();
    this.opts = opts;
  }

  static async start(opts: MediasoupEngineOptions): Promise<WorkerPool> {
    const [min, max] = opts.portRange;
    if (max - min < opts.numWorkers + 1) throw new Error(`MEDIA_PORT_RANGE ${min}-${max} is too small for ${opts.numWorkers} workers plus plain transports`);
    const pool = new WorkerPool(opts);
    try {
      for (let i = 0; i < opts.numWorkers; i++) {
        const { worker, webRtcServer } = await pool.spawn(min + i);
        const slot: WorkerSlot = { index: i, worker, webRtcServer, port: min + i, consumers: 0, routers: 0, generation: 0 };
        pool.slots.push(slot);
        pool.watch(slot);
      }
    } catch (err) {
      pool.close();
      throw err;
    }
    log.info({ workers: opts.numWorkers, ports: pool.slots.map((s) => s.port), workerBin: opts.workerBin }, 'mediasoup workers started');
    return pool;
  }

  /** Ports left for plain and pipe transports (pipeToRouter and mirrors are given this range). */
  get transportPortRange(): { min: number; max: number } {
    return { min: this.opts.portRange[0] + this.opts.numWorkers, max: this.opts.portRange[1] };
  }

  /** The slot with the fewest consumers (ties: fewest routers), optionally not `except`. */
  leastLoaded(except?: ReadonlySet<WorkerSlot>): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    for (const s of this.slots) {
      if (except?.has(s) || s.worker.closed) continue;
      if (!best || s.consumers < best.consumers || (s.consumers === best.consumers && s.routers < best.routers)) best = s;
    }
    return best;
  }

  /** CPU time all current workers used, microseconds (a replaced worker's time is lost). */
  async cpuMicros(): Promise<number> {
    let total = 0;
    for (const s of this.slots) {
      if (s.worker.closed) continue;
      try {
        const ru = await s.worker.getResourceUsage();
        total += (ru.ru_utime + ru.ru_stime) * 1000;
      } catch {
        // A worker dying right now: its time is gone with it.
      }
    }
    return total;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.slots) s.worker.close();
  }

  private async spawn(port: number): Promise<{ worker: Worker; webRtcServer: WebRtcServer }> {
    const worker = await createWorker({
      workerBin: this.opts.workerBin,
      logLevel: this.opts.logLevel as WorkerLogLevel,
      logTags: ['ice', 'dtls', 'rtp', 'srtp', 'rtcp', 'simulcast', 'bwe'],
    });
    try {
      const ip = this.opts.listenIp;
      const announcedAddress = this.opts.announcedIp;
      const webRtcServer = await worker.createWebRtcServer({
        listenInfos: [{ protocol: 'udp', ip, ...(announcedAddress ? { announcedAddress } : {}), port }],
      });
      return { worker, webRtcServer };
    } catch (err) {
      worker.close();
      throw err;
    }
  }

  private watch(slot: WorkerSlot): void {
    const worker = slot.worker;
    worker.on('died', (error) => {
      if (this.closed || slot.worker !== worker) return;
      log.error({ slot: slot.index, pid: worker.pid, error: error.message }, 'mediasoup worker died; replacing it');
      slot.generation++;
      slot.consumers = 0;
      slot.routers = 0;
      this.safeEmit('workerdied', slot, error.message);
      void this.replace(slot);
    });
  }

  private async replace(slot: WorkerSlot): Promise<void> {
    for (let attempt = 1; attempt <= REPLACE_ATTEMPTS && !this.closed; attempt++) {
      try {
        const { worker, webRtcServer } = await this.spawn(slot.port);
        if (this.closed) {
          worker.close();
          return;
        }
        slot.worker = worker;
        slot.webRtcServer = webRtcServer;
        this.watch(slot);
        log.info({ slot: slot.index, pid: worker.pid, attempt }, 'mediasoup worker replaced');
        this.safeEmit('workerreplaced', slot, true);
        return;
      } catch (err) {
        log.warn({ slot: slot.index, attempt, err: (err as Error).message }, 'could not start a replacement mediasoup worker');
        // The dead worker's port may take a moment to be released.
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
    this.safeEmit('workerreplaced', slot, false);
  }
}
