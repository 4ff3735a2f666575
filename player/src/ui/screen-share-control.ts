/**
 * The studio's "Share screen" button: starts a ScreenCapture and hands its track to the
 * Publisher (which publishes it beside the camera), and ends both on "Stop sharing", on the
 * browser's own stop (the track ends), or when the publisher goes away.
 *
 * Test hooks: the button is `data-testid="share-screen"` with `data-sharing="true|false"`;
 * `share(track)` takes a track instead of asking the browser (a test's canvas track).
 */
import { describe } from '../core/errors.ts';
import { ScreenCapture } from '../media/screen-capture.ts';
import type { Publisher } from '../webrtc/publisher.ts';

export class ScreenShareControl {
  private readonly button: HTMLButtonElement;
  private readonly onError: (message: string) => void;
  private readonly capture = new ScreenCapture(() => void this.unshare());
  private publisher: Publisher | undefined;
  private steps: Promise<void> = Promise.resolve();
  private pending = 0;

  /** `onError`: a share could not start or stop (shown to the presenter; the camera stays live); '' clears it. */
  constructor(button: HTMLButtonElement, onError: (message: string) => void) {
    this.button = button;
    this.onError = onError;
    button.addEventListener('click', this.onClick);
    this.render();
  }

  get sharing(): boolean {
    return this.capture.track !== undefined;
  }

  /** The publisher a share goes to (undefined: not live, the button is disabled and a share ends). */
  setPublisher(publisher: Publisher | undefined): void {
    if (publisher === this.publisher) return;
    this.publisher = publisher;
    if (!publisher) this.capture.stop();
    this.render();
  }

  /**
   * Shares `track`, or what the presenter picks in the browser's dialog. Starting and ending
   * run one after the other: a share asked for while the previous one is still ending waits.
   */
  share(track?: MediaStreamTrack): Promise<void> {
    return this.serially(async () => {
      const publisher = this.publisher;
      if (!publisher) return;
      this.onError('');
      try {
        const screen = await this.capture.start(track);
        await publisher.setScreenTrack(screen);
      } catch (err) {
        this.capture.stop();
        // The dialog declined is the presenter's choice, not an error.
        if ((err as DOMException).name !== 'NotAllowedError') this.onError(`screen share: ${describe(err)}`);
      }
    });
  }

  /** Ends the share; the camera stays live. */
  unshare(): Promise<void> {
    this.capture.stop();
    this.render();
    return this.serially(async () => {
      const publisher = this.publisher;
      if (!publisher?.screenTrack || this.capture.track) return;
      try {
        await publisher.setScreenTrack(undefined);
      } catch (err) {
        this.onError(`screen share: ${describe(err)}`);
      }
    });
  }

  /** Runs `step` after every step before it; the button is disabled meanwhile. */
  private serially(step: () => Promise<void>): Promise<void> {
    this.pending++;
    this.render();
    const run = this.steps.then(step).finally(() => {
      this.pending--;
      this.render();
    });
    this.steps = run.catch(() => {});
    return run;
  }

  destroy(): void {
    this.button.removeEventListener('click', this.onClick);
    this.publisher = undefined;
    this.capture.stop();
  }

  private readonly onClick = (): void => {
    void (this.sharing ? this.unshare() : this.share());
  };

  private render(): void {
    this.button.disabled = !this.publisher || this.pending > 0;
    this.button.dataset.sharing = String(this.sharing);
    this.button.textContent = this.sharing ? 'Stop sharing' : 'Share screen';
  }
}
