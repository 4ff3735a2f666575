/**
 * The presenter's shared screen: one video track, from `getDisplayMedia` or handed in (a test's
 * canvas track, another capture), and word when it ends on its own: the browser's own "Stop
 * sharing" ends the track (`ended`), which a page cannot tell from any other end.
 */
export class ScreenCapture {
  private trackValue: MediaStreamTrack | undefined;
  private readonly onEnded: () => void;
  private ownsTrack = false;

  /** `onEnded`: the capture ended without `stop()` (the browser's "Stop sharing", a closed window). */
  constructor(onEnded: () => void) {
    this.onEnded = onEnded;
  }

  get track(): MediaStreamTrack | undefined {
    return this.trackValue;
  }

  /**
   * Starts capturing: asks the browser for a screen, window or tab (the user picks; rejects
   * with the browser's NotAllowedError when they decline), or takes `track` as it is. A
   * running capture is stopped first.
   */
  async start(track?: MediaStreamTrack): Promise<MediaStreamTrack> {
    this.stop();
    let owned = false;
    if (!track) {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
      track = stream.getVideoTracks()[0];
      if (!track) throw new Error('the screen capture has no video');
      owned = true;
    }
    if (track.kind !== 'video') throw new TypeError('ScreenCapture: a screen share is a video track');
    // Text and slides: keep detail over motion when bandwidth is short.
    if ('contentHint' in track) track.contentHint = 'detail';
    this.trackValue = track;
    this.ownsTrack = owned;
    track.addEventListener('ended', this.handleEnded);
    return track;
  }

  /** Ends the capture (a track handed in is left running for its owner). Idempotent. */
  stop(): void {
    const track = this.trackValue;
    this.trackValue = undefined;
    if (!track) return;
    track.removeEventListener('ended', this.handleEnded);
    if (this.ownsTrack) track.stop();
  }

  private readonly handleEnded = (): void => {
    if (!this.trackValue) return;
    this.stop();
    this.onEnded();
  };
}
