import type { Logger } from '../core/logger.ts';
import type { Storage } from '../storage/Storage.ts';

export type UploadTask =
  | {
      op: 'put';
      kind: 'init' | 'segment' | 'playlist';
      key: string;
      /** Evaluated when the upload starts, so a playlist always describes what is stored then. */
      body: Buffer | (() => Buffer | undefined);
      contentType: string;
      cacheControl: string;
      onDone?: () => void;
      /** Called when the task is dropped because the buffer overflowed or the queue closed. */
      onDrop?: () => void;
    }
  | { op: 'delete'; key: string; onDone?: () => void };

export interface UploadQueueOptions {
  storage: Storage;
  log: Logger;
  /** Segment uploads held while storage is failing; past this, the oldest waiting one is dropped. */
  maxPendingSegments: number;
  /** First retry delay, doubled per failure up to `maxBackoffMs`. Default 100. */
  initialBackoffMs?: number;
  /** Default 5000. */
  maxBackoffMs?: number;
}

/** Deletes are best effort: a leftover object is harmless, a blocked queue is not. */
const MAX_DELETE_ATTEMPTS = 5;

/**
 * One rendition's uploads, strictly in order, one at a time: a playlist is only written after
 * every object queued before it is stored. A failed upload is retried with exponential backoff
 * and blocks the ones behind it, so order survives an outage; the live origin does not wait on
 * this queue (it serves from memory). A later write of the same playlist key replaces a queued
 * one, so a backlog does not rewrite one playlist over and over.
 */
export class UploadQueue {
  private readonly storage: Storage;
  private readonly log: Logger;
  private readonly maxPendingSegments: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly tasks: UploadTask[] = [];
  private running = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private wakeRetry: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Uploads that failed at least once (each failed attempt counts). */
  failures = 0;
  /** Segment uploads dropped because the buffer overflowed. */
  dropped = 0;

  constructor(options: UploadQueueOptions) {
    this.storage = options.storage;
    this.log = options.log;
    this.maxPendingSegments = options.maxPendingSegments;
    this.initialBackoffMs = options.initialBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
  }

  get pending(): number {
    return this.tasks.length;
  }

  enqueue(task: UploadTask): void {
    if (this.closed) {
      if (task.op === 'put') task.onDrop?.();
      return;
    }
    if (task.op === 'put' && task.kind === 'playlist') {
      // Index 0 may be in flight; replace only tasks behind it.
      const queued = this.tasks.findIndex((t, i) => i > 0 && t.op === 'put' && t.kind === 'playlist' && t.key === task.key);
      if (queued > 0) this.tasks.splice(queued, 1);
    }
    this.tasks.push(task);
    if (task.op === 'put' && task.kind === 'segment') this.enforceLimit();
    void this.run();
  }

  /** Resolves true once the queue is empty, false if `timeoutMs` passes first. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.tasks.length === 0 && !this.running) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  /** Stops: waiting uploads are dropped, a pending retry is cancelled. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    const dropped = this.tasks.splice(0);
    for (const t of dropped) if (t.op === 'put') t.onDrop?.();
    this.notifyIdle();
  }

  private enforceLimit(): void {
    let segments = this.tasks.filter((t) => t.op === 'put' && t.kind === 'segment').length;
    // Never drop index 0: it may be in flight.
    for (let i = 1; segments > this.maxPendingSegments && i < this.tasks.length; ) {
      const t = this.tasks[i]!;
      if (t.op === 'put' && t.kind === 'segment') {
        this.tasks.splice(i, 1);
        segments--;
        this.dropped++;
        this.log.error({ key: t.key }, 'storage backlog full: segment upload dropped');
        t.onDrop?.();
      } else {
        i++;
      }
    }
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      let attempt = 0;
      while (!this.closed && this.tasks.length > 0) {
        const task = this.tasks[0]!;
        try {
          await this.execute(task);
          if (this.closed) break;
          this.tasks.shift();
          attempt = 0;
          task.onDone?.();
        } catch (err) {
          if (this.closed) break;
          this.failures++;
          attempt++;
          const message = err instanceof Error ? err.message : String(err);
          if (task.op === 'delete' && attempt >= MAX_DELETE_ATTEMPTS) {
            this.log.warn({ key: task.key, err: message }, 'storage delete abandoned');
            this.tasks.shift();
            attempt = 0;
            continue;
          }
          const delay = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (attempt - 1));
          const jittered = delay / 2 + Math.random() * (delay / 2);
          if (attempt === 1 || attempt % 10 === 0) {
            this.log.warn({ key: task.key, attempt, retryInMs: Math.round(jittered), err: message }, 'storage upload failed; retrying');
          }
          await new Promise<void>((resolve) => {
            this.wakeRetry = resolve;
            this.retryTimer = setTimeout(resolve, jittered);
          });
          this.wakeRetry = undefined;
        }
      }
    } finally {
      this.running = false;
      if (this.tasks.length === 0 || this.closed) this.notifyIdle();
    }
  }

  private async execute(task: UploadTask): Promise<void> {
    if (task.op === 'delete') return this.storage.delete(task.key);
    const body = typeof task.body === 'function' ? task.body() : task.body;
    if (body === undefined) return; // nothing to write (yet)
    await this.storage.put(task.key, body, task.contentType, task.cacheControl);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters.splice(0);
    for (const w of waiters) w();
  }
}
