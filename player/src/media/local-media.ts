import { ErrorDetails, ErrorTypes, PlayerErrorException, describe } from '../core/errors.ts';
import { EventEmitter } from '../core/event-emitter.ts';

export type MediaKind = 'audio' | 'video';

export interface LocalMediaConfig {
  /** Camera constraints (deviceId is added from the picker). Default: 1280×720 at 30 fps, ideal. */
  video: MediaTrackConstraints;
  /** Microphone constraints. Default: echo cancellation, noise suppression, auto gain on. */
  audio: MediaTrackConstraints;
}

export const defaultLocalMediaConfig = (): LocalMediaConfig => ({
  video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
});

export type LocalMediaEvents = {
  /** A track was replaced (device switch); the old one is already stopped. */
  trackchange: [kind: MediaKind, track: MediaStreamTrack];
  /** Devices were plugged or unplugged. */
  devicechange: [];
};

/**
 * The camera and microphone: one MediaStream holding one audio and one video track.
 * Switching a device captures from the new one first and only then stops the old track, so a
 * failed switch leaves the current device running.
 */
export class LocalMedia extends EventEmitter<LocalMediaEvents> {
  readonly config: LocalMediaConfig;
  readonly stream = new MediaStream();
  private started = false;

  constructor(config: Partial<LocalMediaConfig> = {}) {
    super();
    this.config = { ...defaultLocalMediaConfig(), ...config };
    navigator.mediaDevices.addEventListener('devicechange', this.onDeviceChange);
  }

  /** Opens camera and microphone (the given devices, or the defaults). */
  async start(deviceIds: { audio?: string; video?: string } = {}): Promise<MediaStream> {
    let captured: MediaStream;
    try {
      captured = await navigator.mediaDevices.getUserMedia({
        audio: withDevice(this.config.audio, deviceIds.audio),
        video: withDevice(this.config.video, deviceIds.video),
      });
    } catch (err) {
      throw new PlayerErrorException({ type: ErrorTypes.MEDIA, details: ErrorDetails.GET_USER_MEDIA_FAILED, fatal: true, message: `camera/microphone: ${describe(err)}`, error: err });
    }
    for (const track of this.stream.getTracks()) {
      this.stream.removeTrack(track);
      track.stop();
    }
    for (const track of captured.getTracks()) this.stream.addTrack(track);
    this.started = true;
    return this.stream;
  }

  track(kind: MediaKind): MediaStreamTrack | undefined {
    return kind === 'audio' ? this.stream.getAudioTracks()[0] : this.stream.getVideoTracks()[0];
  }

  /** The device the current track of `kind` captures from. */
  deviceId(kind: MediaKind): string | undefined {
    return this.track(kind)?.getSettings().deviceId;
  }

  /** Inputs of each kind. Labels are only filled once capture has been allowed. */
  async devices(): Promise<Record<MediaKind, MediaDeviceInfo[]>> {
    const all = await navigator.mediaDevices.enumerateDevices();
    return {
      audio: all.filter((d) => d.kind === 'audioinput'),
      video: all.filter((d) => d.kind === 'videoinput'),
    };
  }

  /** Captures from `deviceId`, swaps the track into the stream and emits `trackchange`. */
  async switchDevice(kind: MediaKind, deviceId: string): Promise<MediaStreamTrack> {
    if (!this.started) throw new Error('LocalMedia: start() first');
    if (this.deviceId(kind) === deviceId) return this.track(kind)!;
    let next: MediaStreamTrack | undefined;
    try {
      const captured = await navigator.mediaDevices.getUserMedia(
        kind === 'audio' ? { audio: withDevice(this.config.audio, deviceId) } : { video: withDevice(this.config.video, deviceId) },
      );
      next = captured.getTracks()[0];
    } catch (err) {
      throw new PlayerErrorException({ type: ErrorTypes.MEDIA, details: ErrorDetails.DEVICE_SWITCH_FAILED, fatal: false, message: `switching ${kind} device: ${describe(err)}`, error: err });
    }
    if (!next) throw new PlayerErrorException({ type: ErrorTypes.MEDIA, details: ErrorDetails.DEVICE_SWITCH_FAILED, fatal: false, message: `no ${kind} track from the device` });
    const previous = this.track(kind);
    if (previous) {
      this.stream.removeTrack(previous);
      previous.stop();
    }
    this.stream.addTrack(next);
    this.emit('trackchange', kind, next);
    return next;
  }

  /** Stops capture and removes every listener. Idempotent. */
  destroy(): void {
    navigator.mediaDevices.removeEventListener('devicechange', this.onDeviceChange);
    for (const track of this.stream.getTracks()) {
      track.stop();
      this.stream.removeTrack(track);
    }
    this.started = false;
    this.removeAllListeners();
  }

  private readonly onDeviceChange = (): void => this.emit('devicechange');
}

function withDevice(constraints: MediaTrackConstraints, deviceId: string | undefined): MediaTrackConstraints {
  return deviceId ? { ...constraints, deviceId: { exact: deviceId } } : constraints;
}
