import type { PlayerError } from '../core/errors.ts';
import type { SignalingClient } from '../signaling/signaling-client.ts';
import { h } from '../ui/dom.ts';
import { StageSubscriber, type StageTile, type TileStats } from './stage-subscriber.ts';

export interface StageViewConfig {
  /** ICE servers for the subscriber connection; pass the `joined` message's list. Default: none. */
  iceServers: RTCIceServer[];
  /**
   * This page's own participant id: its tile is never shown nor played (a guest must not hear
   * itself). Default: none.
   */
  selfId: string | undefined;
  /**
   * Play the tiles' sound. Default true. The role-switching player starts a stage view silent
   * behind the broadcast and turns the sound on at the swap (`setAudible`), so that audio never
   * plays twice.
   */
  audible: boolean;
  /** Caption of a tile. Default: the participant id. */
  labelFor: (participantId: string) => string;
}

interface TileView {
  figure: HTMLElement;
  video: HTMLVideoElement;
  caption: HTMLElement;
  unmute: HTMLButtonElement | undefined;
}

/**
 * The stage over WebRTC: a StageSubscriber feeding one `<video data-testid="tile"
 * data-participant-id>` per publisher (its audio and video in one MediaStream) inside `root`.
 *
 * `whenFramesShown()` resolves once the view has something to show: at least one tile, and every
 * tile that carries video has a decoded frame in its element (readyState ≥ HAVE_CURRENT_DATA and
 * a picture size). Before that, showing the view would show black tiles.
 *
 * `stop()` unsubscribes and removes the tiles, and may be followed by `start()`; `destroy()`
 * also drops the listeners. Both are idempotent.
 */
export class StageView {
  readonly config: StageViewConfig;
  private readonly signaling: SignalingClient;
  private readonly root: HTMLElement;
  private readonly onFatal: (error: PlayerError) => void;
  private subscriber: StageSubscriber | undefined;
  private readonly views = new Map<string, TileView>();
  private audibleValue: boolean;

  constructor(signaling: SignalingClient, root: HTMLElement, config: Partial<StageViewConfig>, onFatal: (error: PlayerError) => void) {
    this.config = { iceServers: [], selfId: undefined, audible: true, labelFor: (id) => id, ...config };
    if (!Array.isArray(this.config.iceServers)) throw new TypeError('StageView: iceServers must be an array');
    this.signaling = signaling;
    this.root = root;
    this.onFatal = onFatal;
    this.audibleValue = this.config.audible;
    this.updateEmpty();
  }

  get pc(): RTCPeerConnection | undefined {
    return this.subscriber?.pc;
  }

  get audible(): boolean {
    return this.audibleValue;
  }

  tiles(): Promise<TileStats[]> {
    return this.subscriber ? this.subscriber.stats() : Promise.resolve([]);
  }

  /** The first tile's element (what the view shows first), if any. */
  firstVideo(): HTMLVideoElement | undefined {
    return this.views.values().next().value?.video;
  }

  async start(): Promise<void> {
    if (this.subscriber) return;
    const sub = new StageSubscriber(this.signaling, { iceServers: this.config.iceServers });
    this.subscriber = sub;
    sub.on('tileadded', (tile) => this.show(tile));
    sub.on('tileupdated', (tile) => this.show(tile));
    sub.on('tileremoved', (tile) => this.remove(tile.participantId));
    sub.on('error', (error) => this.onFatal(error));
    await sub.start();
  }

  /** Sound on or off for every tile, at once. */
  setAudible(audible: boolean): void {
    this.audibleValue = audible;
    for (const view of this.views.values()) {
      view.video.muted = !audible;
      if (!audible) {
        view.unmute?.remove();
        view.unmute = undefined;
      }
      // Sound turned on later than the autoplay check: play() again so a refusal shows Unmute.
      else void this.play(view);
    }
  }

  /** Whether the view has a decoded frame in every video tile (and at least one tile). */
  framesShown(): boolean {
    let any = false;
    for (const view of this.views.values()) {
      const stream = view.video.srcObject as MediaStream | null;
      if (!stream || stream.getVideoTracks().length === 0) continue;
      if (view.video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || view.video.videoWidth === 0) return false;
      any = true;
    }
    return any;
  }

  /**
   * Resolves once `framesShown()`, or once the stage has had no tile at all for `emptyAfterMs`
   * (nobody else is on stage: there is nothing to wait for, and an empty stage shows no video
   * element, so no black one). Rejects with the signal's reason when aborted.
   */
  whenFramesShown(signal: AbortSignal, options: { emptyAfterMs?: number; pollMs?: number } = {}): Promise<void> {
    const emptyAfterMs = options.emptyAfterMs ?? Infinity;
    let emptySince: number | undefined;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const check = () => {
        emptySince = this.views.size === 0 ? (emptySince ?? performance.now()) : undefined;
        const empty = emptySince !== undefined && performance.now() - emptySince >= emptyAfterMs;
        if (!this.framesShown() && !empty) return;
        done();
        resolve();
      };
      const timer = setInterval(check, options.pollMs ?? 20);
      const onAbort = () => {
        done();
        reject(signal.reason);
      };
      const done = () => {
        clearInterval(timer);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort);
      check();
    });
  }

  async stop(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) {
      await sub.stop();
      sub.destroy();
    }
    this.clear();
  }

  destroy(): void {
    this.subscriber?.destroy();
    this.subscriber = undefined;
    this.clear();
  }

  /** Refreshes the captions (a participant's identity became known). */
  relabel(): void {
    for (const [participantId, view] of this.views) view.caption.textContent = this.config.labelFor(participantId);
  }

  private show(tile: StageTile): void {
    if (tile.participantId === this.config.selfId) return;
    let view = this.views.get(tile.participantId);
    if (!view) {
      const video = h('video', { 'data-testid': 'tile', 'data-participant-id': tile.participantId, playsinline: '' });
      video.autoplay = true;
      video.muted = !this.audibleValue;
      const caption = h('figcaption', {}, [this.config.labelFor(tile.participantId)]);
      const figure = h('figure', { class: 'tile' }, [video, caption]);
      view = { figure, video, caption, unmute: undefined };
      this.views.set(tile.participantId, view);
      this.root.append(figure);
      this.updateEmpty();
    }
    if (view.video.srcObject !== tile.stream) view.video.srcObject = tile.stream;
    void this.play(view);
  }

  private remove(participantId: string): void {
    const view = this.views.get(participantId);
    if (!view) return;
    this.views.delete(participantId);
    view.video.pause();
    view.video.srcObject = null;
    view.figure.remove();
    this.updateEmpty();
  }

  private clear(): void {
    for (const participantId of [...this.views.keys()]) this.remove(participantId);
  }

  /** Plays with sound when audible and autoplay allows it; otherwise muted (with Unmute when it should be audible). */
  private async play(view: TileView): Promise<void> {
    view.video.muted = !this.audibleValue;
    try {
      await view.video.play();
    } catch (err) {
      if ((err as DOMException).name !== 'NotAllowedError' || !this.audibleValue) return;
      view.video.muted = true;
      await view.video.play().catch(() => {});
      if (view.unmute || !this.views.has(this.idOf(view))) return;
      const button = h('button', { class: 'unmute', type: 'button' }, ['Unmute']);
      button.addEventListener('click', () => {
        view.video.muted = !this.audibleValue;
        button.remove();
        view.unmute = undefined;
      }, { once: true });
      view.unmute = button;
      view.figure.append(button);
    }
  }

  private idOf(view: TileView): string {
    for (const [id, v] of this.views) if (v === view) return id;
    return '';
  }

  private updateEmpty(): void {
    this.root.dataset.empty = String(this.views.size === 0);
  }
}
