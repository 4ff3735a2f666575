/**
 * The status line (`data-testid="status"`). Its text is the machine-readable state
 * (`idle`, `connecting`, `live`, `error: …`), which tests read; `data-state` drives the colour.
 */
export class StatusView {
  private readonly el: HTMLElement;

  constructor(el: HTMLElement) {
    this.el = el;
  }

  set(state: string, detail?: string): void {
    this.el.textContent = detail ? `${state}: ${detail}` : state;
    this.el.dataset.state = state;
  }

  get text(): string {
    return this.el.textContent ?? '';
  }
}
