import type { Rendition } from '../packager/index.ts';
import { hasCompleteSegment, isSatisfied, type BlockingRequest } from './blockingReload.ts';

export type WaitOutcome = 'ready' | 'closed' | 'timeout';

/** The live playlist of one revision, as sent: rendered once, sent to every reader of it. */
export interface RenderedPlaylist {
  revision: number;
  body: Buffer;
  /** Strong: the packager's epoch and the revision name these bytes. */
  etag: string;
}

interface Gate {
  ready: () => boolean;
  /** A blocking playlist request waits here: render the playlist once before releasing. */
  forPlaylist: boolean;
  promise: Promise<void>;
  resolve: () => void;
}

/**
 * What the readers at the live edge of one rendition share. Every request waiting for the
 * same thing (a playlist holding (msn, part), or a part by id) waits on one gate, resolved
 * once when that thing lands or the rendition ends or closes. The edge listens to the
 * rendition's condition through one shared promise while any gate is open, so a new part costs
 * a check per open gate (a handful near the live edge), not a wake-up per blocked request.
 *
 * The playlist is rendered once per revision of the rendition (one per part, segment, end, or
 * sibling part for the rendition reports), as bytes with an ETag, and those bytes go to every
 * reader of that revision: released waiters, and plain reloads until the next revision. The
 * origin has no `_HLS_skip` (no CAN-SKIP-UNTIL), so there is one variant per revision.
 */
export class LiveEdge {
  readonly rendition: Rendition;
  /** Playlists rendered so far: one per revision that someone read. */
  renders = 0;

  private readonly epoch: string;
  private readonly gates = new Map<string, Gate>();
  private listening = false;
  private rendered: RenderedPlaylist | undefined;

  constructor(rendition: Rendition, epoch: string) {
    this.rendition = rendition;
    this.epoch = epoch;
  }

  /** Gates open now (distinct things being waited for). */
  get openGates(): number {
    return this.gates.size;
  }

  /** The live playlist of the current revision; undefined until the rendition has one. */
  playlist(): RenderedPlaylist | undefined {
    const revision = this.rendition.revision;
    if (this.rendered?.revision === revision) return this.rendered;
    const text = this.rendition.playlist();
    if (text === undefined) return undefined;
    this.renders++;
    this.rendered = { revision, body: Buffer.from(text), etag: `"${this.epoch}-${revision}"` };
    return this.rendered;
  }

  /** Waits until the live playlist holds what `req` asks for. */
  waitForPlaylist(req: BlockingRequest, timeoutMs: number): Promise<WaitOutcome> {
    const key = req.part === undefined ? `s${req.msn}` : `p${req.msn}.${req.part}`;
    return this.wait(key, () => isSatisfied(this.rendition, req), true, timeoutMs);
  }

  /** Waits until the live playlist lists a complete segment (a plain reload of a broadcast that has just started here). */
  waitForFirstSegment(timeoutMs: number): Promise<WaitOutcome> {
    return this.wait('first', () => hasCompleteSegment(this.rendition), true, timeoutMs);
  }

  /** Waits until part `id` (announced, or about to be) is in memory. */
  waitForPart(id: number, timeoutMs: number): Promise<WaitOutcome> {
    return this.wait(`o${id}`, () => this.rendition.getPart(id) !== undefined, false, timeoutMs);
  }

  /**
   * `closed` when the rendition closed, or ended without what was asked for. A request whose
   * client went away is not cut short: it holds a timer until its gate opens, at most the timeout.
   */
  private wait(key: string, ready: () => boolean, forPlaylist: boolean, timeoutMs: number): Promise<WaitOutcome> {
    const now = this.outcome(ready);
    if (now) return Promise.resolve(now);
    let gate = this.gates.get(key);
    if (!gate) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      gate = { ready, forPlaylist, promise, resolve };
      this.gates.set(key, gate);
      this.listen();
    }
    const opened = gate.promise;
    return new Promise<WaitOutcome>((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), Math.max(0, timeoutMs));
      void opened.then(() => {
        clearTimeout(timer);
        resolve(this.outcome(ready) ?? 'timeout');
      });
    });
  }

  private outcome(ready: () => boolean): WaitOutcome | undefined {
    if (this.rendition.closed) return 'closed';
    if (ready()) return 'ready';
    if (this.rendition.ended) return 'closed';
    return undefined;
  }

  private listen(): void {
    if (this.listening) return;
    this.listening = true;
    void this.rendition.condition.changed().then(() => this.release());
  }

  private release(): void {
    this.listening = false;
    const r = this.rendition;
    let render = false;
    for (const [key, gate] of this.gates) {
      if (!r.closed && !r.ended && !gate.ready()) continue;
      this.gates.delete(key);
      render ||= gate.forPlaylist;
      gate.resolve();
    }
    // Render now, once, before the released requests run (they continue in later microtasks).
    if (render && !r.closed) this.playlist();
    if (this.gates.size > 0) this.listen();
  }
}
