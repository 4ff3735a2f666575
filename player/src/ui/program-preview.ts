/**
 * The program as the audience sees it: a small, muted hls.js view of the room's LL-HLS
 * broadcast (HlsView, the watch page's player) with its state and live latency (now − the
 * playing frame's PROGRAM-DATE-TIME). Used by the studio (what the presenter puts out) and the
 * console (the broadcast's health). Muted: a presenter must not hear the program back.
 *
 * Test hooks: `data-testid="program-preview"` on the container (its `<video>` inside),
 * `program-state` and `program-latency`.
 */
import { HlsView, type HlsViewSnapshot } from '../hls/hls-view.ts';
import type { SignalingClient } from '../signaling/signaling-client.ts';
import { h } from './dom.ts';
import './screen-share.css';

const STATE_TEXT: Record<string, string> = {
  idle: 'not started',
  loading: 'loading',
  waiting: 'waiting for the broadcast',
  playing: 'playing',
  stalled: 'stalled',
  ended: 'ended',
  failed: 'failed',
  stopped: 'stopped',
};

export class ProgramPreview {
  private readonly root: HTMLElement;
  private readonly src: string;
  private readonly stateEl: HTMLElement;
  private readonly latencyEl: HTMLElement;
  private readonly videoRoot: HTMLElement;
  private view: HlsView | undefined;
  private unfollow: (() => void) | undefined;

  /** Renders into `root` (emptied) the preview of `room`'s program; `start()` plays it. */
  constructor(root: HTMLElement, room: string) {
    this.root = root;
    this.src = `/hls/${encodeURIComponent(room)}/index.m3u8`;
    this.videoRoot = h('div', { class: 'program-video' });
    this.stateEl = h('span', { 'data-testid': 'program-state' }, [STATE_TEXT.idle!]);
    this.latencyEl = h('span', { 'data-testid': 'program-latency' });
    const meta = h('p', { class: 'program-meta' }, [this.stateEl, ' · ', this.latencyEl]);
    root.replaceChildren(h('div', { class: 'program-preview', 'data-testid': 'program-preview' }, [this.videoRoot, meta]));
  }

  /** Live values of the hls.js view; null before `start()`. */
  snapshot(): HlsViewSnapshot | null {
    return this.view?.snapshot() ?? null;
  }

  /** Latency of the playing frame, s; null until a dated frame plays. */
  get latencySec(): number | null {
    return this.view?.snapshot().latencySec ?? null;
  }

  /**
   * Starts once the server says the program is playable (`joined.broadcastReady`, or the
   * `broadcastReady` event), so the preview never asks the origin for a playlist that is not
   * there yet (each 404 is a console error in the browser). Stopping ends the following.
   */
  startWhenReady(signaling: SignalingClient): void {
    this.unfollow?.();
    const onReady = () => this.start();
    signaling.on('broadcastReady', onReady);
    this.unfollow = () => signaling.off('broadcastReady', onReady);
    if (signaling.joined?.broadcastReady) this.start();
  }

  /** Waits for the broadcast and plays it, muted, following it across restarts. Idempotent. */
  start(): void {
    if (this.view) return;
    const view = new HlsView(this.videoRoot, { src: this.src, muted: true }, this.latencyEl);
    this.view = view;
    view.on('statechange', (state) => {
      this.stateEl.textContent = STATE_TEXT[state] ?? state;
    });
    void view.start().catch(() => {});
  }

  /** Stops playing and frees the player. Idempotent; `start()` may follow. */
  stop(): void {
    this.unfollow?.();
    this.unfollow = undefined;
    const view = this.view;
    this.view = undefined;
    view?.destroy();
    this.stateEl.textContent = STATE_TEXT.stopped!;
    this.latencyEl.textContent = '';
  }

  /** Stops and removes the preview from the page. */
  destroy(): void {
    this.stop();
    this.root.replaceChildren();
  }
}
