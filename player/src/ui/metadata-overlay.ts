/**
 * A simple overlay for timed metadata over a video: the payload's `text` (or `question`, or
 * `title`) for a few seconds, else the payload as JSON. Always rendered as text, never as HTML.
 */
export class MetadataOverlay {
  private readonly el: HTMLElement;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly showMs: number;

  /** @param root element the overlay is placed over (positioned). @param showMs how long one item shows. Default 6000. */
  constructor(root: HTMLElement, showMs = 6000) {
    this.showMs = showMs;
    this.el = document.createElement('div');
    this.el.className = 'metadata-overlay';
    this.el.dataset.testid = 'metadata-overlay';
    this.el.setAttribute('role', 'status');
    this.el.hidden = true;
    root.append(this.el);
  }

  show(payload: unknown): void {
    this.el.textContent = overlayText(payload);
    this.el.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => (this.el.hidden = true), this.showMs);
  }

  destroy(): void {
    clearTimeout(this.timer);
    this.el.remove();
  }
}

export function overlayText(payload: unknown): string {
  if (typeof payload === 'string') return payload;
  if (payload && typeof payload === 'object') {
    const p = payload as Record<string, unknown>;
    for (const key of ['text', 'question', 'title']) if (typeof p[key] === 'string') return p[key];
  }
  return JSON.stringify(payload) ?? '';
}
