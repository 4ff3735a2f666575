import type { HlsView, HlsViewState } from '../hls/hls-view.ts';
import { MetadataCueController, type MetadataCue } from '../hls/metadata-cues.ts';
import type { SignalingClient } from '../signaling/signaling-client.ts';
import { MetadataOverlay } from '../ui/metadata-overlay.ts';
import { RecordingPlayer, type RecordingSnapshot } from './recording-player.ts';

export interface WatchExtrasOptions {
  room: string;
  /** Where the recording player goes (the broadcast view). */
  broadcastRoot: HTMLElement;
  /** Where the metadata overlay goes (over both views). */
  overlayRoot: HTMLElement;
  signaling: SignalingClient;
  /** The live HLS view now, if any. */
  hlsView: () => HlsView | undefined;
}

/** A metadata item as the page saw it: from the HLS playlists (`hls`), a recording, or signaling (`stage`). */
export type SeenMetadata = (MetadataCue & { via: 'hls' | 'recording' }) | { via: 'stage'; id: string; payload: unknown; at: string; firedAt: number };

/**
 * What the watch page shows around its two views: timed metadata (fired at its frame from the
 * LL-HLS playlists for the audience, at once over signaling for stage members) in a text
 * overlay, and the room's latest recording once the live broadcast has ended.
 */
export class WatchExtras {
  readonly seen: SeenMetadata[] = [];
  private readonly opts: WatchExtrasOptions;
  private readonly overlay: MetadataOverlay;
  private readonly liveCues: MetadataCueController;
  private recording: RecordingPlayer | undefined;
  private recordingCues: MetadataCueController | undefined;
  private offMetadata: () => void = () => {};

  constructor(opts: WatchExtrasOptions) {
    this.opts = opts;
    this.overlay = new MetadataOverlay(opts.overlayRoot);
    this.liveCues = new MetadataCueController(() => ({ hls: opts.hlsView()?.hlsInstance, video: opts.hlsView()?.videoElement }));
    this.liveCues.on('cue', (cue) => this.show({ ...cue, via: 'hls' }));
    this.rebind(opts.signaling);
  }

  /** Listens to `signaling` for stage metadata, instead of the client it had (a new session's). */
  rebind(signaling: SignalingClient): void {
    this.offMetadata();
    const onMetadata = (message: { id: string; payload: unknown; at: string }) =>
      this.show({ via: 'stage', id: message.id, payload: message.payload, at: message.at, firedAt: performance.timeOrigin + performance.now() });
    signaling.on('metadata', onMetadata);
    this.offMetadata = () => signaling.off('metadata', onMetadata);
  }

  /** Follows the live view: an ended live plays the latest recording; a new live stops it. */
  hlsState(state: HlsViewState): void {
    if (state === 'ended') this.playRecording();
    else if (state === 'playing' || state === 'loading' || state === 'stopped') this.stopRecording();
  }

  get recordingSnapshot(): RecordingSnapshot | null {
    return this.recording?.snapshot() ?? null;
  }

  destroy(): void {
    this.offMetadata();
    this.liveCues.destroy();
    this.stopRecording();
    this.overlay.destroy();
  }

  private show(item: SeenMetadata): void {
    this.seen.push(item);
    this.overlay.show(item.payload);
  }

  private playRecording(): void {
    if (this.recording) return;
    const player = new RecordingPlayer(this.opts.broadcastRoot, this.opts.room);
    this.recording = player;
    const cues = new MetadataCueController(() => ({ hls: player.hlsInstance, video: player.videoElement }), { staleAfterSec: Infinity });
    cues.on('cue', (cue) => this.show({ ...cue, via: 'recording' }));
    this.recordingCues = cues;
    void player.playLatest();
  }

  private stopRecording(): void {
    this.recordingCues?.destroy();
    this.recordingCues = undefined;
    this.recording?.destroy();
    this.recording = undefined;
  }
}
