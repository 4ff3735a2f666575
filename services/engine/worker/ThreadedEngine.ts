import { Worker } from 'node:worker_threads';
import { EnhancedEventEmitter } from '../../core/EnhancedEventEmitter.ts';
import { InvalidSdpError, InvalidStateError, ServiceError, type ErrorCode } from '../../core/errors.ts';
import { logger } from '../../core/logger.ts';
import type { CloseReason, EngineEvents, EngineOptions, EngineStats, MediaEngine, MirrorInfo, MirrorTarget, PreferredLayers, StageTrack, SubscriberOffer, PublishResult, PublishOptions } from '../EngineTypes.ts';
import type { EngineMethod, EngineThreadData, FromThread, ToThread } from './protocol.ts';

const log = logger.child({ mod: 'engine.thread' });

/** Time allowed for any one engine call before it fails with `engine_error`. Default 15 s. */
const CALL_TIMEOUT_MS = 15000;

/**
 * Runs the embedded engine on a worker thread and presents it as a MediaEngine. Every call
 * and event is plain data, so the engine's per-packet work (SRTP, forwarding, RTCP) never
 * competes with HTTP and WebSocket handling on the main event loop. If the thread dies, every
 * pending call fails and `died` is emitted: every room on it is gone.
 */
export class ThreadedEngine extends EnhancedEventEmitter<EngineEvents> implements MediaEngine {
  readonly kind = 'embedded' as const;
  readonly capabilities = { simulcast: false, activeSpeaker: false };
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private nextId = 1;
  private dead = false;
  private closing = false;

  private constructor(worker: Worker) {
    super();
    this.worker = worker;
    worker.on('message', (msg: FromThread) => this.onMessage(msg));
    worker.on('error', (err) => this.die(`engine thread error: ${err.message}`));
    worker.on('exit', (code) => this.die(`engine thread exited with code ${code}`));
  }

  static async start(options: EngineOptions): Promise<ThreadedEngine> {
    const workerData: EngineThreadData = { kind: 'embedded', options };
    const worker = new Worker(new URL('./engineThread.ts', import.meta.url), { workerData });
    const engine = new ThreadedEngine(worker);
    await new Promise<void>((resolve, reject) => {
      const onMessage = (msg: FromThread) => {
        if (msg.t === 'ready') {
          worker.off('message', onMessage);
          resolve();
        }
      };
      worker.on('message', onMessage);
      worker.once('exit', (code) => reject(new Error(`engine thread exited during start (${code})`)));
    });
    return engine;
  }

  createRoom(roomId: string): Promise<void> {
    return this.call('createRoom', roomId);
  }
  closeRoom(roomId: string, reason: CloseReason): Promise<void> {
    return this.call('closeRoom', roomId, reason);
  }
  publish(roomId: string, peerId: string, offer: string, options?: PublishOptions): Promise<PublishResult> {
    return this.call('publish', roomId, peerId, offer, ...(options ? [options] : []));
  }
  closePublisher(roomId: string, peerId: string, reason: CloseReason): Promise<void> {
    return this.call('closePublisher', roomId, peerId, reason);
  }
  setTrackPaused(roomId: string, trackId: string, paused: boolean): Promise<void> {
    return this.call('setTrackPaused', roomId, trackId, paused);
  }
  subscribe(roomId: string, peerId: string): Promise<SubscriberOffer> {
    return this.call('subscribe', roomId, peerId);
  }
  answerSubscriber(roomId: string, peerId: string, version: number, answer: string): Promise<void> {
    return this.call('answerSubscriber', roomId, peerId, version, answer);
  }
  subscribeWithOffer(roomId: string, peerId: string, offer: string): Promise<{ answer: string; tracks: StageTrack[] }> {
    return this.call('subscribeWithOffer', roomId, peerId, offer);
  }
  closeSubscriber(roomId: string, peerId: string, reason: CloseReason): Promise<void> {
    return this.call('closeSubscriber', roomId, peerId, reason);
  }
  setSubscriberLayers(roomId: string, peerId: string, trackId: string, layers: PreferredLayers): Promise<void> {
    return this.call('setSubscriberLayers', roomId, peerId, trackId, layers);
  }
  mirrorTrack(roomId: string, trackId: string, target: MirrorTarget): Promise<MirrorInfo> {
    return this.call('mirrorTrack', roomId, trackId, target);
  }
  stopMirror(roomId: string, trackId: string): Promise<void> {
    return this.call('stopMirror', roomId, trackId);
  }
  requestKeyFrame(roomId: string, trackId: string): Promise<void> {
    return this.call('requestKeyFrame', roomId, trackId);
  }
  listTracks(roomId: string): Promise<StageTrack[]> {
    return this.call('listTracks', roomId);
  }
  stats(): Promise<EngineStats> {
    return this.call('stats');
  }

  async close(): Promise<void> {
    if (this.closing || this.dead) return;
    this.closing = true;
    await this.call('close').catch(() => {});
    this.dead = true;
    await this.worker.terminate();
  }

  private call<T>(method: EngineMethod, ...args: unknown[]): Promise<T> {
    if (this.dead) return Promise.reject(new ServiceError('engine_error', 'media engine is not running'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ServiceError('engine_error', `media engine did not answer ${method} in time`));
      }, CALL_TIMEOUT_MS);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      const msg: ToThread = { t: 'call', id, method, args };
      this.worker.postMessage(msg);
    });
  }

  private onMessage(msg: FromThread): void {
    if (msg.t === 'event') {
      (this.safeEmit as (name: string, ...a: unknown[]) => boolean)(msg.name, ...msg.args);
      return;
    }
    if (msg.t !== 'result') return;
    const call = this.pending.get(msg.id);
    if (!call) return;
    this.pending.delete(msg.id);
    clearTimeout(call.timer);
    if (msg.ok) call.resolve(msg.value);
    else call.reject(reviveError(msg.error));
  }

  private die(reason: string): void {
    if (this.dead && !this.closing) return;
    const expected = this.closing;
    this.dead = true;
    for (const call of this.pending.values()) {
      clearTimeout(call.timer);
      call.reject(new ServiceError('engine_error', 'media engine stopped'));
    }
    this.pending.clear();
    if (!expected) {
      log.error({ reason }, 'engine thread died');
      this.safeEmit('died', reason);
    }
  }
}

function reviveError(e: { name: string; code: string; message: string; status: number }): Error {
  if (e.name === 'InvalidSdpError') return new InvalidSdpError(e.message);
  if (e.name === 'InvalidStateError') return new InvalidStateError(e.message);
  return new ServiceError(e.code as ErrorCode, e.message, e.status);
}
