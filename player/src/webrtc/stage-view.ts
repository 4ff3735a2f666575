import type { PlayerError } from '../core/errors.ts';
import type { SignalingClient } from '../signaling/signaling-client.ts';
import type { ServerMessageOf } from '../signaling/signaling-types.ts';
import { h } from '../ui/dom.ts';
import '../ui/screen-share.css';
import { DEFAULT_LAYER_WIDTHS_PX, spatialLayerForWidth } from './simulcast.ts';
import { StageSubscriber, type StageSubscriberState, type StageTile, type TileStats } from './stage-subscriber.ts';

/** A simulcast layer choice for one tile; 0 is the lowest. */
export interface LayerChoice {
  spatialLayer: number;
  temporalLayer?: number;
}

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
  /**
   * The engine does simulcast (the `joined` message's `capabilities.simulcast`): each tile asks
   * for the layer its displayed size needs (`layerWidthsPx`), unless `setLayers` chose one.
   * Default false: no layer requests.
   */
  simulcast: boolean;
  /** Largest displayed width, device pixels, for each lower layer (see simulcast.ts). Default [360, 720]. */
  layerWidthsPx: readonly number[];
}

interface TileView {
  /** The tile's key (StageTile.key): the participant id, or `<id>:screen` for its shared screen. */
  key: string;
  participantId: string;
  source: 'camera' | 'screen';
  figure: HTMLElement;
  video: HTMLVideoElement;
  caption: HTMLElement;
  unmute: HTMLButtonElement | undefined;
  /** The last frame, drawn over the video while the subscriber reconnects. */
  frozen: HTMLCanvasElement | undefined;
  /** The video track the frozen frame came from; a frame of any other track ends the freeze. */
  frozenTrack: MediaStreamTrack | undefined;
  /** A frame callback is waiting to end the freeze. */
  thawPending: boolean;
}

/**
 * The stage over WebRTC: a StageSubscriber feeding one `<video data-testid="tile"
 * data-participant-id>` per publisher (its audio and video in one MediaStream) inside `root`.
 *
 * `whenFramesShown()` resolves once the view has something to show: at least one tile, and every
 * tile that carries video has a decoded frame in its element (readyState ≥ HAVE_CURRENT_DATA and
 * a picture size). Before that, showing the view would show black tiles.
 *
 * While the subscriber reconnects (see StageSubscriber), tiles stay and each shows its last
 * frame (a canvas over the video) until a frame of its new track is on screen: no black tile.
 *
 * The active speaker's tile (`activeSpeaker` events, `joined.activeSpeaker`) has the class
 * `speaking`. With simulcast, each tile asks for the layer its size needs.
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
  private speaker: string | undefined;
  /** Layers the page chose with `setLayers`, by participant; the others follow their size. */
  private readonly pinnedLayers = new Map<string, LayerChoice>();
  /** The last layer request sent for each participant's video track. */
  private readonly sentLayers = new Map<string, { trackId: string; key: string }>();
  private readonly resizeObserver: ResizeObserver | undefined;
  private reconnectsValue = 0;

  constructor(signaling: SignalingClient, root: HTMLElement, config: Partial<StageViewConfig>, onFatal: (error: PlayerError) => void) {
    this.config = { iceServers: [], selfId: undefined, audible: true, labelFor: (id) => id, simulcast: false, layerWidthsPx: DEFAULT_LAYER_WIDTHS_PX, ...config };
    if (!Array.isArray(this.config.iceServers)) throw new TypeError('StageView: iceServers must be an array');
    if (!this.config.layerWidthsPx.every((w, i, all) => w > 0 && (i === 0 || w > all[i - 1]!))) {
      throw new TypeError('StageView: layerWidthsPx must be increasing widths > 0');
    }
    this.signaling = signaling;
    this.root = root;
    this.onFatal = onFatal;
    this.audibleValue = this.config.audible;
    this.speaker = signaling.joined?.activeSpeaker;
    signaling.on('activeSpeaker', this.onActiveSpeaker);
    if (this.config.simulcast && typeof ResizeObserver !== 'undefined') {
      this.resizeObserver = new ResizeObserver((entries) => {
        for (const entry of entries) {
          const key = (entry.target as HTMLElement).dataset.tileKey;
          if (key) this.applyLayers(key);
        }
      });
    }
    this.updateEmpty();
  }

  /** How many times the subscription was lost and made again (counted when recovery begins). */
  get reconnects(): number {
    return this.reconnectsValue;
  }

  /** The participant the server last named as the dominant speaker, if any. */
  get activeSpeaker(): string | undefined {
    return this.speaker;
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
    sub.on('tileremoved', (tile) => this.remove(tile.key));
    sub.on('tileheld', (tile) => {
      const view = this.views.get(tile.key);
      if (view) this.freeze(view);
    });
    sub.on('statechange', (state) => this.onSubscriberState(state));
    sub.on('reconnecting', (attempt) => attempt === 1 && this.reconnectsValue++);
    sub.on('error', (error) => this.onFatal(error));
    await sub.start();
  }

  /**
   * Chooses the simulcast layer of a tile's video (rejects with the server's error, e.g.
   * `unsupported` without simulcast), or `'auto'` to let its size choose again. The choice
   * holds across renegotiations and reconnections.
   */
  async setLayers(participantId: string, layers: LayerChoice | 'auto'): Promise<void> {
    if (layers === 'auto') {
      this.pinnedLayers.delete(participantId);
      this.applyLayers(participantId);
      return;
    }
    this.pinnedLayers.set(participantId, layers);
    await this.sendLayers(participantId, layers);
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
    this.signaling.off('activeSpeaker', this.onActiveSpeaker);
    this.resizeObserver?.disconnect();
    this.clear();
  }

  /** Refreshes the captions (a participant's identity became known). */
  relabel(): void {
    for (const view of this.views.values()) view.caption.textContent = this.caption(view.participantId, view.source);
  }

  private show(tile: StageTile): void {
    if (tile.participantId === this.config.selfId) return;
    let view = this.views.get(tile.key);
    if (!view) {
      const video = h('video', { 'data-testid': 'tile', 'data-participant-id': tile.participantId, 'data-source': tile.source, 'data-tile-key': tile.key, playsinline: '' });
      video.autoplay = true;
      video.muted = !this.audibleValue;
      const caption = h('figcaption', {}, [this.caption(tile.participantId, tile.source)]);
      const figure = h('figure', { class: tile.source === 'screen' ? 'tile screen' : 'tile' }, [video, caption]);
      figure.classList.toggle('speaking', tile.source === 'camera' && tile.participantId === this.speaker);
      view = { key: tile.key, participantId: tile.participantId, source: tile.source, figure, video, caption, unmute: undefined, frozen: undefined, frozenTrack: undefined, thawPending: false };
      this.views.set(tile.key, view);
      // A shared screen comes first: the presentation layout (screen-share.css) shows it large.
      if (tile.source === 'screen') this.root.prepend(figure);
      else this.root.append(figure);
      this.resizeObserver?.observe(video);
      this.updateEmpty();
    }
    if (view.video.srcObject !== tile.stream) view.video.srcObject = tile.stream;
    this.thawOnNewFrame(view, tile.stream);
    // A new track id (published again) needs the choice again.
    this.applyLayers(tile.key);
    void this.play(view);
  }

  private readonly onActiveSpeaker = (message: ServerMessageOf<'activeSpeaker'>): void => {
    this.speaker = message.participantId;
    for (const view of this.views.values()) view.figure.classList.toggle('speaking', view.source === 'camera' && view.participantId === this.speaker);
  };

  private onSubscriberState(state: StageSubscriberState): void {
    // Announced before the old connection closes: its tracks still hold their last frame.
    if (state === 'reconnecting') for (const view of this.views.values()) this.freeze(view);
  }

  /**
   * A still of the view: each tile's last frame and caption, in the stage's layout, for the page
   * to show over a new view while that one gets its first frames (a rejoin after losing the node:
   * the old connection is gone, its tiles with it). Undefined when no tile has a frame.
   */
  snapshot(): HTMLElement | undefined {
    const figures: HTMLElement[] = [];
    for (const view of this.views.values()) {
      // A frozen tile shows its frozen frame, not what its element holds.
      const canvas = stillOf(view.frozen ?? view.video, 'still');
      if (!canvas) continue;
      figures.push(h('figure', { class: view.figure.className }, [canvas, h('figcaption', {}, [view.caption.textContent ?? ''])]));
    }
    if (!figures.length) return undefined;
    return h('section', { class: 'stage stage-poster', 'data-testid': 'stage-poster', 'aria-hidden': 'true' }, figures);
  }

  /** Draws the tile's current frame over its video until a frame of a new track is shown. */
  private freeze(view: TileView): void {
    if (view.frozen) return;
    const canvas = stillOf(view.video, 'frozen');
    if (!canvas) return;
    canvas.dataset.testid = 'frozen-frame';
    const { video } = view;
    view.frozen = canvas;
    view.frozenTrack = (video.srcObject as MediaStream | null)?.getVideoTracks()[0];
    video.after(canvas);
  }

  /** Once the stream carries a live video track other than the frozen one, the next frame on screen ends the freeze. */
  private thawOnNewFrame(view: TileView, stream: MediaStream): void {
    if (!view.frozen || view.thawPending) return;
    const track = stream.getVideoTracks().find((t) => t.readyState === 'live' && t !== view.frozenTrack);
    if (!track) return;
    view.thawPending = true;
    view.video.requestVideoFrameCallback(() => {
      view.thawPending = false;
      view.frozen?.remove();
      view.frozen = undefined;
      view.frozenTrack = undefined;
    });
  }

  /** Sends the tile's layer choice (pinned, or by its displayed width) when simulcast is on and it changed. */
  private applyLayers(participantId: string): void {
    const view = this.views.get(participantId);
    if (!view) return;
    const pinned = this.pinnedLayers.get(participantId);
    if (!pinned && !this.config.simulcast) return;
    const layers = pinned ?? { spatialLayer: spatialLayerForWidth(view.video.clientWidth * devicePixelRatio, this.config.layerWidthsPx) };
    this.sendLayers(participantId, layers).catch((err: unknown) => console.warn(`stage: setLayers for ${participantId}: ${(err as Error).message}`));
  }

  private async sendLayers(participantId: string, layers: LayerChoice): Promise<void> {
    const trackId = this.subscriber?.videoTrackId(participantId);
    if (!trackId) return;
    const key = `${layers.spatialLayer}/${layers.temporalLayer ?? ''}`;
    const sent = this.sentLayers.get(participantId);
    if (sent?.trackId === trackId && sent.key === key) return;
    this.sentLayers.set(participantId, { trackId, key });
    try {
      await this.signaling.request({
        type: 'setLayers',
        trackId,
        spatialLayer: layers.spatialLayer,
        ...(layers.temporalLayer !== undefined ? { temporalLayer: layers.temporalLayer } : {}),
      });
    } catch (err) {
      // Not applied: the next change tries again.
      if (this.sentLayers.get(participantId)?.key === key) this.sentLayers.delete(participantId);
      throw err;
    }
  }

  private remove(participantId: string): void {
    const view = this.views.get(participantId);
    if (!view) return;
    this.views.delete(participantId);
    this.sentLayers.delete(participantId);
    this.resizeObserver?.unobserve(view.video);
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
    this.root.dataset.presenting = String([...this.views.values()].some((v) => v.source === 'screen'));
  }

  private caption(participantId: string, source: 'camera' | 'screen'): string {
    const label = this.config.labelFor(participantId);
    return source === 'screen' ? `${label} (screen)` : label;
  }
}

/** A canvas holding the current frame of `source` (a video element, or a canvas); undefined without a picture. */
function stillOf(source: HTMLVideoElement | HTMLCanvasElement, className: string): HTMLCanvasElement | undefined {
  const width = source instanceof HTMLVideoElement ? source.videoWidth : source.width;
  const height = source instanceof HTMLVideoElement ? source.videoHeight : source.height;
  if (width === 0 || height === 0) return undefined;
  const canvas = h('canvas', { class: className });
  canvas.width = width;
  canvas.height = height;
  try {
    canvas.getContext('2d')?.drawImage(source, 0, 0);
  } catch {
    return undefined;
  }
  return canvas;
}
