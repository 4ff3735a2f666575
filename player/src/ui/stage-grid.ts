import type { StageTile } from '../webrtc/stage-subscriber.ts';
import { h } from './dom.ts';

interface TileView {
  figure: HTMLElement;
  video: HTMLVideoElement;
  caption: HTMLElement;
}

/**
 * The grid of stage tiles: one <video data-testid="tile" data-participant-id> per publisher,
 * playing that publisher's audio and video from one MediaStream. Sound is on where autoplay
 * allows it; where it does not, the video plays muted and an "Unmute" button appears.
 */
export class StageGrid {
  private readonly root: HTMLElement;
  private readonly views = new Map<string, TileView>();
  private readonly labelFor: (participantId: string) => string;

  constructor(root: HTMLElement, labelFor: (participantId: string) => string) {
    this.root = root;
    this.labelFor = labelFor;
  }

  add(tile: StageTile): void {
    if (this.views.has(tile.participantId)) return this.update(tile);
    const video = h('video', { 'data-testid': 'tile', 'data-participant-id': tile.participantId, playsinline: '' });
    video.autoplay = true;
    const caption = h('figcaption', {}, [this.labelFor(tile.participantId)]);
    const figure = h('figure', { class: 'tile' }, [video, caption]);
    this.views.set(tile.participantId, { figure, video, caption });
    this.root.append(figure);
    video.srcObject = tile.stream;
    void this.play(tile.participantId);
    this.updateEmpty();
  }

  /** The stream gained or lost a track: restart playback so the new track plays. */
  update(tile: StageTile): void {
    const view = this.views.get(tile.participantId);
    if (!view) return this.add(tile);
    if (view.video.srcObject !== tile.stream) view.video.srcObject = tile.stream;
    void this.play(tile.participantId);
  }

  remove(participantId: string): void {
    const view = this.views.get(participantId);
    if (!view) return;
    this.views.delete(participantId);
    view.video.pause();
    view.video.srcObject = null;
    view.figure.remove();
    this.updateEmpty();
  }

  /** Refreshes the captions (a participant's identity became known). */
  relabel(): void {
    for (const [participantId, view] of this.views) view.caption.textContent = this.labelFor(participantId);
  }

  clear(): void {
    for (const participantId of [...this.views.keys()]) this.remove(participantId);
  }

  private async play(participantId: string): Promise<void> {
    const view = this.views.get(participantId);
    if (!view) return;
    view.video.muted = false;
    try {
      await view.video.play();
    } catch (err) {
      if ((err as DOMException).name !== 'NotAllowedError') return;
      // Autoplay with sound refused: play muted and let the user turn sound on.
      view.video.muted = true;
      await view.video.play().catch(() => {});
      this.offerUnmute(view);
    }
  }

  private offerUnmute(view: TileView): void {
    if (view.figure.querySelector('.unmute')) return;
    const button = h('button', { class: 'unmute', type: 'button' }, ['Unmute']);
    button.addEventListener('click', () => {
      view.video.muted = false;
      button.remove();
    }, { once: true });
    view.figure.append(button);
  }

  private updateEmpty(): void {
    this.root.dataset.empty = String(this.views.size === 0);
  }
}
