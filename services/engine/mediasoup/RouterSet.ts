import type { ActiveSpeakerObserver, Producer, Router, RouterRtpCodecCapability } from 'mediasoup/types';
import { EnhancedEventEmitter } from '../../core/EnhancedEventEmitter.ts';
import { ServiceError } from '../../core/errors.ts';
import { logger } from '../../core/logger.ts';
import type { MediasoupEngineOptions } from './options.ts';
import type { ParsedSdp } from './sdp.ts';
import { receiverNumbering, renumberedCodecs } from './sdpWhep.ts';
import type { WorkerPool, WorkerSlot } from './WorkerPool.ts';

const log = logger.child({ mod: 'engine.mediasoup' });

/**
 * The router's codecs: opus, VP8 and H264 constrained baseline, as the embedded engine. mediasoup
 * sends with the router's payload types, and a WHEP client's offer fixes the numbers it expects,
 * so they are pinned to the ones Chromium offers (opus 111, VP8 96, H264 42e01f mode 1 at 108).
 */
export const MEDIA_CODECS: RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 } },
  { kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 96, clockRate: 90000 },
  {
    kind: 'video',
    mimeType: 'video/H264',
    preferredPayloadType: 108,
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
  },
];

/**
 * A room's router on one worker. The first is the room's own; others receive piped producers:
 * routers on other workers when subscribers outgrow the per-worker budget, and routers whose
 * payload types follow a WHEP receiver that numbers codecs its own way.
 */
export interface RouterPart {
  slot: WorkerSlot;
  generation: number;
  router: Router;
  /** '' for the room's own payload types, else the key of a receiver's numbering (`Numbering`). */
  numbering: string;
  /** This room's consumers on this router. */
  consumers: number;
  /** Primary producer id → the id of its pipe producer in this router; never used on the primary. */
  piped: Map<string, Promise<string>>;
}

/** The room's codecs with a receiver's payload types, and a key naming that numbering. */
export interface Numbering {
  key: string;
  codecs: RouterRtpCodecCapability[];
}

export type RouterSetEvents = {
  /** The room's dominant speaker changed; the peer id its producer was published with. */
  dominantspeaker: [peerId: string];
  /**
   * The primary router died with its worker: every leg and track of the room is gone. The
   * other routers are closed once the listeners return, and a new primary is built.
   */
  primarylost: [];
  /** Routers other than the primary died with their worker: the legs on them are gone. */
  partslost: [parts: RouterPart[]];
};

/**
 * Where a room's media lives: a primary router on one worker, with the room's
 * ActiveSpeakerObserver; more routers on other workers when its subscribers outgrow the
 * per-worker consumer budget; routers numbered a WHEP receiver's way. Other routers are fed from
 * the primary by pipeToRouter. After a worker death the set reports what was lost
 * (`primarylost`, `partslost`) and gives the room a new primary.
 */
export class RouterSet extends EnhancedEventEmitter<RouterSetEvents> {
  private readonly roomId: string;
  private readonly pool: WorkerPool;
  private readonly opts: MediasoupEngineOptions;
  private parts: RouterPart[] = [];
  private observer: ActiveSpeakerObserver | undefined;
  private closed = false;
  private rebuilding = false;

  constructor(roomId: string, pool: WorkerPool, opts: MediasoupEngineOptions) {
    super();
    this.roomId = roomId;
    this.pool = pool;
    this.opts = opts;
  }

  get primary(): RouterPart {
    const p = this.parts[0];
    if (!p) throw new ServiceError('engine_error', `room ${this.roomId} has no router right now (its worker died; it gets a new one as soon as a worker runs)`, 503);
    return p;
  }

  async buildPrimary(): Promise<void> {
    const slot = this.pool.leastLoaded();
    if (!slot) throw new ServiceError('engine_error', 'no mediasoup worker is running', 503);
    const router = await slot.worker.createRouter({ mediaCodecs: MEDIA_CODECS, appData: { roomId: this.roomId } });
    slot.routers++;
    const part: RouterPart = { slot, generation: slot.generation, router, numbering: '', consumers: 0, piped: new Map() };
    let observer: ActiveSpeakerObserver;
    try {
      observer = await router.createActiveSpeakerObserver({ interval: 300 });
    } catch (err) {
      router.close();
      slot.routers--;
      throw err;
    }
    if (this.closed) {
      router.close();
      slot.routers--;
      return;
    }
    this.parts = [part];
    observer.on('dominantspeaker', ({ producer }) => {
      const peerId = (producer.appData as { peerId?: string }).peerId;
      if (peerId && !this.closed) this.safeEmit('dominantspeaker', peerId);
    });
    this.observer = observer;
  }

  /** Gives the room a primary router again if it lost it and a worker is running. */
  async ensurePrimary(): Promise<void> {
    if (this.closed || this.parts.length > 0 || !this.pool.leastLoaded() || this.rebuilding) return;
    this.rebuilding = true;
    try {
      await this.buildPrimary();
    } finally {
      this.rebuilding = false;
    }
  }

  /** Lets the active speaker observer hear an audio producer of the primary router. */
  async observeSpeaker(producerId: string): Promise<void> {
    if (this.observer && !this.observer.closed) await this.observer.addProducer({ producerId }).catch(() => {});
  }

  /** How a WHEP receiver numbers the room's codecs, or undefined when it numbers them as the room does. */
  numberingOf(offer: ParsedSdp): Numbering | undefined {
    const codecs = renumberedCodecs(MEDIA_CODECS, receiverNumbering(offer, this.primary.router.rtpCapabilities));
    return codecs && { key: codecs.map((c) => `${c.mimeType}:${c.preferredPayloadType}`).join(','), codecs };
  }

  /**
   * Where a new subscriber of `needed` consumers goes. With the room's own payload types: the
   * first of the room's routers with room for them within the per-worker consumer budget, else a
   * new router on the least loaded worker the room does not use yet (fed through pipeToRouter),
   * else the least loaded of its routers. With a receiver's numbering: a router of that numbering
   * within the budget, else a new one on the least loaded worker.
   */
  async partFor(numbering: Numbering | undefined, needed: number): Promise<RouterPart> {
    // Throws 503 while the room has no router (its worker died and the rebuild is not done).
    void this.primary;
    const key = numbering?.key ?? '';
    const budget = this.opts.consumersPerWorker;
    const same = this.parts.filter((p) => p.numbering === key);
    const fits = same.find((p) => p.consumers + needed <= budget);
    if (fits) return fits;
    const slot = numbering
      ? (this.pool.leastLoaded(new Set(same.map((p) => p.slot))) ?? this.pool.leastLoaded())
      : this.pool.leastLoaded(new Set(this.parts.map((p) => p.slot)));
    if (slot) {
      const router = await slot.worker.createRouter({ mediaCodecs: numbering?.codecs ?? MEDIA_CODECS, appData: { roomId: this.roomId, piped: true, ...(numbering ? { numbering: key } : {}) } });
      slot.routers++;
      if (this.closed || this.parts.length === 0) {
        // Closed, or lost its primary to a dying worker, while the router was being made.
        router.close();
        slot.routers--;
        throw new ServiceError('engine_error', `room ${this.roomId} is being rebuilt or closed`, 503);
      }
      const part: RouterPart = { slot, generation: slot.generation, router, numbering: key, consumers: 0, piped: new Map() };
      this.parts.push(part);
      if (numbering) log.info({ room: this.roomId, worker: slot.index, numbering: key }, 'router for a receiver that numbers codecs its own way, fed by pipeToRouter');
      else log.info({ room: this.roomId, worker: slot.index, routers: this.parts.length }, 'room outgrew its worker budget; new router fed by pipeToRouter');
      return part;
    }
    return same.reduce((a, b) => (b.consumers < a.consumers ? b : a));
  }

  /**
   * Pipes `producer` (of the primary) into `part` once and gives the producer id to consume
   * there; concurrent callers wait for the same pipe. Pipe producers get ids of their own: a part
   * may share its worker with the primary, and one worker refuses two producers with one id.
   */
  pipe(part: RouterPart, producer: Producer): Promise<string> {
    if (part === this.primary) return Promise.resolve(producer.id);
    const producerId = producer.id;
    let piping = part.piped.get(producerId);
    if (!piping) {
      const { min, max } = this.pool.transportPortRange;
      piping = this.primary.router
        .pipeToRouter({
          producerId,
          router: part.router,
          keepId: false,
          listenInfo: { protocol: 'udp', ip: '127.0.0.1', portRange: { min, max } },
        })
        .then(({ pipeProducer }) => pipeProducer!.id);
      part.piped.set(producerId, piping);
      piping.catch(() => part.piped.delete(producerId));
      producer.observer.once('close', () => part.piped.delete(producerId));
    }
    return piping;
  }

  /** A consumer was made on `part`: it counts against the part's and its worker's budget. */
  consumerAdded(part: RouterPart): void {
    part.consumers++;
    part.slot.consumers++;
  }

  /** A consumer of `part` closed; a dead worker's count is not the replacement's to lower. */
  consumerRemoved(part: RouterPart): void {
    part.consumers--;
    if (part.slot.generation === part.generation) part.slot.consumers--;
  }

  /**
   * The slot's worker just died; its routers and transports are already closed. If the primary
   * was on it, `primarylost` goes out, the other routers close and the room gets a new primary on
   * a live worker (now, or when the slot's replacement is up: `ensurePrimary`). If only other
   * routers were on it, `partslost` names them.
   */
  async onWorkerDied(slot: WorkerSlot): Promise<void> {
    if (this.closed) return;
    const dead = this.parts.filter((p) => p.slot === slot && p.generation !== slot.generation);
    if (dead.length === 0) return;
    if (dead.includes(this.parts[0]!)) {
      log.warn({ room: this.roomId, worker: slot.index }, 'room lost its router with its worker; rebuilding it');
      // Forget the routers first, so that closing piped routers' consumers renegotiates nothing.
      const others = this.parts.filter((p) => !dead.includes(p));
      this.parts = [];
      this.observer = undefined;
      this.safeEmit('primarylost');
      for (const p of others) {
        p.router.close();
        p.slot.routers--;
      }
      await this.ensurePrimary();
      return;
    }
    this.safeEmit('partslost', dead);
    this.parts = this.parts.filter((p) => !dead.includes(p));
  }

  /** Closes every router (and with them their transports). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.parts) {
      p.router.close();
      if (p.slot.generation === p.generation) p.slot.routers--;
    }
    this.parts = [];
  }
}
