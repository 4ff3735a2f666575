/**
 * Parent side of the SFU capacity bots: starts ./sfu-bots.process.ts (libwebrtc via
 * @roamhq/wrtc) as a child process and drives it over IPC. Bots hand out complete SDP (ICE
 * gathered, no trickle): the publisher's offer, each subscriber's answer.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Cumulative RTP counters of one bot, summed over its audio and video streams. */
export interface BotCounters {
  packetsReceived: number;
  packetsLost: number;
  bytesReceived: number;
  framesDecoded: number;
  packetsSent: number;
  bytesSent: number;
  framesEncoded: number;
  /** mimeType of the video stream, e.g. video/VP8; empty until known. */
  videoCodec: string;
}

export interface BotStats {
  bots: Record<string, BotCounters>;
  /** CPU time of the whole bot process (every libwebrtc thread), µs. */
  cpuMicros: number;
}

export type BotRequest =
  | { op: 'publisher'; id: string; audio: boolean }
  /** A subscriber bot answering the forwarder's offer. */
  | { op: 'subscriber'; id: string; offer: string }
  | { op: 'answer'; id: string; sdp: string }
  /** Starts or stops feeding a publisher's sources (no frames: the encoder idles). */
  | { op: 'active'; id: string; on: boolean }
  | { op: 'stats'; ids: string[] }
  | { op: 'close'; id: string }
  | { op: 'shutdown' };

export type BotReply = { seq: number; ok: true; value: unknown } | { seq: number; ok: false; error: string };

export class BotFleet {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private seq = 1;
  private exited = false;

  private constructor(child: ChildProcess) {
    this.child = child;
    child.on('message', (msg: BotReply) => {
      const call = this.pending.get(msg.seq);
      if (!call) return;
      this.pending.delete(msg.seq);
      if (msg.ok) call.resolve(msg.value);
      else call.reject(new Error(`bot: ${msg.error}`));
    });
    child.on('exit', (code) => {
      this.exited = true;
      for (const call of this.pending.values()) call.reject(new Error(`bot process exited (${code})`));
      this.pending.clear();
    });
  }

  static async start(env: Record<string, string>): Promise<BotFleet> {
    const child = fork(fileURLToPath(new URL('./sfu-bots.process.ts', import.meta.url)), [], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`bot process exited during start (${code})`)));
    });
    return new BotFleet(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  publisher(id: string, audio: boolean): Promise<string> {
    return this.call({ op: 'publisher', id, audio });
  }
  /** A new subscriber bot's answer to `offer`. */
  subscriber(id: string, offer: string): Promise<string> {
    return this.call({ op: 'subscriber', id, offer });
  }
  answer(id: string, sdp: string): Promise<void> {
    return this.call({ op: 'answer', id, sdp });
  }
  setActive(id: string, on: boolean): Promise<void> {
    return this.call({ op: 'active', id, on });
  }
  stats(ids: string[]): Promise<BotStats> {
    return this.call({ op: 'stats', ids });
  }
  close(id: string): Promise<void> {
    return this.call({ op: 'close', id });
  }

  async shutdown(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.call({ op: 'shutdown' }).catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  private call<T>(req: BotRequest): Promise<T> {
    if (this.exited) return Promise.reject(new Error('bot process is gone'));
    const seq = this.seq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ seq, req });
    });
  }
}
