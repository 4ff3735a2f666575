import type { StageView } from './stage-view.ts';

/**
 * A still of a stage view's last frames (StageView.snapshot, `data-testid="stage-poster"`), kept
 * over the stage while a page joins the room again and builds a new view, which stays empty
 * until the members' tracks come again. The page takes it down once the new view shows a frame
 * of every tile (`removeOnFrames`), or at once when it leaves the stage.
 */
export class StagePoster {
  private element: HTMLElement | undefined;
  private readonly maxMs: number;

  /** `maxMs`: how long the still may stay, should the new view never show a frame. */
  constructor(maxMs = 20_000) {
    this.maxMs = maxMs;
  }

  /** Shows a still of `view` where `place` puts it, replacing the one shown before; nothing when the view has no picture. */
  show(view: StageView | undefined, place: (still: HTMLElement) => void): void {
    this.remove();
    this.element = view?.snapshot();
    if (this.element) place(this.element);
  }

  remove(): void {
    this.element?.remove();
    this.element = undefined;
  }

  /** Removes the still once `view` shows a frame of every tile, or after `maxMs`. */
  async removeOnFrames(view: StageView | undefined): Promise<void> {
    const shown = this.element;
    if (!shown) return;
    if (view) await view.whenFramesShown(AbortSignal.timeout(this.maxMs)).catch(() => {});
    if (this.element === shown) this.remove();
  }
}
