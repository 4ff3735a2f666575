/**
 * The microphone level bar: an element whose `--level` (0..1) sets the filled width, and
 * whose `data-level` holds the same value for tests and assistive tooling.
 */
export class LevelMeterView {
  private readonly el: HTMLElement;
  private shown = -1;

  constructor(el: HTMLElement) {
    this.el = el;
    this.el.setAttribute('role', 'meter');
    this.el.setAttribute('aria-valuemin', '0');
    this.el.setAttribute('aria-valuemax', '1');
  }

  set(level: number): void {
    const rounded = Math.round(level * 100) / 100;
    if (rounded === this.shown) return;
    this.shown = rounded;
    this.el.style.setProperty('--level', String(rounded));
    this.el.dataset.level = String(rounded);
    this.el.setAttribute('aria-valuenow', String(rounded));
  }
}
