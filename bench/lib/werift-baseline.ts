/**
 * The embedded engine's baseline: bare werift forwarding on a worker thread
 * (./werift-baseline.thread.ts), its CPU measured as the embedded engine measures its own:
 * `process.threadCpuUsage()` of the worker thread.
 */
import { Worker } from 'node:worker_threads';
import type { Forwarder, ForwarderCounters } from './forwarder.ts';
import type { BaselineRequest } from './werift-baseline.thread.ts';

type Reply = { seq: number; ok: true; value: unknown } | { seq: number; ok: false; error: string };

export class WeriftBaseline implements Forwarder {
  readonly name = 'bare werift';
  readonly cpuSource = 'worker thread CPU (process.threadCpuUsage)';
  readonly jsThread = true;
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private seq = 1;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (msg: Reply) => {
      const call = this.pending.get(msg.seq);
      if (!call) return;
      this.pending.delete(msg.seq);
      if (msg.ok) call.resolve(msg.value);
      else call.reject(new Error(`bare werift: ${msg.error}`));
    });
    worker.on('error', (err) => {
      for (const call of this.pending.values()) call.reject(err);
      this.pending.clear();
    });
  }

  static async start(portRange: [number, number]): Promise<WeriftBaseline> {
    const worker = new Worker(new URL('./werift-baseline.thread.ts', import.meta.url), { workerData: { portRange } });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return new WeriftBaseline(worker);
  }

  publish(offer: string): Promise<string> {
    return this.call({ op: 'publish', offer });
  }
  liveKinds(): Promise<string[]> {
    return this.call({ op: 'tracks' });
  }
  subscribe(id: string): Promise<string> {
    return this.call({ op: 'subscribe', id });
  }
  answer(id: string, sdp: string): Promise<void> {
    return this.call({ op: 'answer', id, sdp });
  }
  unsubscribe(id: string): Promise<void> {
    return this.call({ op: 'unsubscribe', id });
  }
  counters(): Promise<ForwarderCounters> {
    return this.call({ op: 'counters' });
  }
  async close(): Promise<void> {
    await this.call({ op: 'close' }).catch(() => {});
    await this.worker.terminate();
  }

  private call<T>(req: BaselineRequest): Promise<T> {
    const seq = this.seq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ seq, req });
    });
  }
}
