/**
 * The presenter's studio: camera and microphone preview, device pickers, a microphone level
 * meter, and Go live / Stop. Reads `room` and `token` from the page URL.
 *
 * Exposes `window.__studio = { state, pc, participantId, reconnects, simulcast }` for tests:
 * `state` is the status text (`idle`, `connecting`, `live`, `reconnecting`, `stopped`,
 * `error: …`), `pc` the publishing connection, `reconnects` how many times the publisher lost
 * its connection and began publishing again (also after the room's node went away, see
 * rejoinAfterLoss), `simulcast` whether it sends simulcast.
 * Screen share and previews: `shareScreen(track?)` (a track instead of the browser's picker),
 * `stopScreen()`, `screenSharing`, `screenTrack`, `program` (the program preview's HlsViewSnapshot) and
 * `stageTiles()` (the other stage members, StageView tiles).
 */
import './ui/player.css';
import { ChatPanel } from './chat/chat-panel.ts';
import { ErrorDetails, PlayerErrorException, describe, type PlayerError } from './core/errors.ts';
import { LevelMeter } from './media/level-meter.ts';
import { LocalMedia, type MediaKind } from './media/local-media.ts';
import { SignalingClient } from './signaling/signaling-client.ts';
import { renderDeviceOptions } from './ui/device-picker.ts';
import { $, queryParam } from './ui/dom.ts';
import { LevelMeterView } from './ui/level-meter-view.ts';
import { StatusView } from './ui/status-view.ts';
import { toRtcIceServers } from './webrtc/ice.ts';
import { Publisher } from './webrtc/publisher.ts';
import { DEFAULT_RECONNECT_DELAYS_MS, isNodeLoss } from './webrtc/reconnect-policy.ts';
import { Reconnector } from './webrtc/reconnector.ts';
import { StageView } from './webrtc/stage-view.ts';
import { StagePoster } from './webrtc/stage-poster.ts';
import { ProgramPreview } from './ui/program-preview.ts';
import { ScreenShareControl } from './ui/screen-share-control.ts';

type StudioState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'stopped' | 'error';

const room = queryParam('room');
const token = queryParam('token');

const status = new StatusView($('[data-testid="status"]'));
const preview = $<HTMLVideoElement>('#preview');
const cameraSelect = $<HTMLSelectElement>('#camera');
const micSelect = $<HTMLSelectElement>('#microphone');
const goLiveButton = $<HTMLButtonElement>('#go-live');
const stopButton = $<HTMLButtonElement>('#stop');
const chat = new ChatPanel($('main'), { placeholder: 'Chat opens when you go live' });
$('#room').textContent = room ? `room ${room}` : '';

const media = new LocalMedia();
const screenShare = new ScreenShareControl($<HTMLButtonElement>('#share-screen'), (message) => ($('[data-testid="screen-error"]').textContent = message));
const program = room ? new ProgramPreview($('#program'), room) : undefined;
let stageView: StageView | undefined;
const meterView = new LevelMeterView($('#meter'));
const meter = new LevelMeter((level) => meterView.set(level));

let state: StudioState = 'idle';
let signaling: SignalingClient | undefined;
let publisher: Publisher | undefined;
let reconnects = 0;
/** Joining again after the room's node went away (rejoinAfterLoss). */
let rejoining = false;
const rejoiner = new Reconnector(DEFAULT_RECONNECT_DELAYS_MS, 'studio');
/** A still of the other stage members over the stage while the page joins again. */
const poster = new StagePoster();

function setState(next: StudioState, detail?: string): void {
  state = next;
  status.set(next, detail);
  goLiveButton.disabled = !token || next === 'connecting' || next === 'live' || next === 'reconnecting';
  stopButton.disabled = next !== 'connecting' && next !== 'live' && next !== 'reconnecting';
}

(window as unknown as { __studio: unknown }).__studio = {
  get state() {
    return status.text;
  },
  get pc() {
    return publisher?.pc;
  },
  /** The stage view's connection (the other members' tracks). */
  get stagePc() {
    return stageView?.pc;
  },
  /** This connection's participant id once joined (the id stage tiles carry). */
  get participantId() {
    return signaling?.joined?.participantId;
  },
  get reconnects() {
    return reconnects;
  },
  get simulcast() {
    return publisher?.config.simulcast;
  },
  shareScreen: (track?: MediaStreamTrack) => screenShare.share(track),
  stopScreen: () => screenShare.unshare(),
  get screenSharing() {
    return screenShare.sharing;
  },
  /** The shared screen's track (a test ends it as the browser's own "Stop sharing" would). */
  get screenTrack() {
    return publisher?.screenTrack;
  },
  get program() {
    return program?.snapshot() ?? null;
  },
  stageTiles: () => stageView?.tiles() ?? Promise.resolve([]),
};

// ---- preview and devices --------------------------------------------------------------------

async function startPreview(): Promise<void> {
  await media.start();
  preview.srcObject = media.stream;
  meter.setTrack(media.track('audio'));
  await refreshDevices();
}

async function refreshDevices(): Promise<void> {
  const devices = await media.devices();
  renderDeviceOptions(cameraSelect, devices.video, media.deviceId('video'), 'Camera');
  renderDeviceOptions(micSelect, devices.audio, media.deviceId('audio'), 'Microphone');
}

async function switchDevice(kind: MediaKind, deviceId: string): Promise<void> {
  try {
    const track = await media.switchDevice(kind, deviceId);
    if (kind === 'audio') meter.setTrack(track);
    // Live: swap the outgoing track in place; no renegotiation, viewers keep their tile.
    await publisher?.replaceTrack(track);
  } catch (err) {
    // The previous device keeps running; show the problem without leaving the stage.
    console.warn(describe(err));
  }
  await refreshDevices();
}

media.on('devicechange', () => void refreshDevices());
cameraSelect.addEventListener('change', () => void switchDevice('video', cameraSelect.value));
micSelect.addEventListener('change', () => void switchDevice('audio', micSelect.value));

// ---- going live -----------------------------------------------------------------------------

async function goLive(): Promise<void> {
  if (!token || state === 'connecting' || state === 'live' || state === 'reconnecting') return;
  setState('connecting');
  void meter.resume().catch(() => {});
  try {
    if (!media.track('video') && !media.track('audio')) await startPreview();
  } catch (err) {
    fail(err instanceof PlayerErrorException ? err.data : undefined, err);
    return;
  }
  // join() reports its own failure (fail), unless stopped meanwhile.
  if (await join().catch(() => false)) setState('live');
}

/**
 * Joins (through the page's own node, which redirects to the room's node in a cluster) and
 * publishes the current tracks. Resolves false when stopped meanwhile; rejects on failure,
 * leaving nothing open.
 */
async function join(): Promise<boolean> {
  const client = new SignalingClient({ token: token!, room });
  signaling = client;
  // Stop (or a fatal error) during any await below replaces `signaling`; this attempt then ends quietly.
  const current = () => signaling === client;
  let closingError: PlayerError | undefined;
  client.on('error', (error) => {
    if (!error.fatal || !current() || rejoining) return;
    const onStage = state === 'live' || state === 'reconnecting';
    // A lost socket: its `close` (next) tells whether the node went away or the server ended it.
    if (onStage && error.details === ErrorDetails.SOCKET_CLOSED) closingError = error;
    else if (onStage && error.details === ErrorDetails.HEARTBEAT_TIMEOUT) void rejoinAfterLoss();
    else fail(error);
  });
  client.on('close', (info) => {
    if (!current() || rejoining || (state !== 'live' && state !== 'reconnecting')) return;
    if (isNodeLoss(info)) void rejoinAfterLoss();
    else fail(closingError);
  });
  try {
    const joined = await client.connect();
    if (!current()) return false;
    chat.attach(client);
    const pub = new Publisher(client, { iceServers: toRtcIceServers(joined.iceServers), simulcast: joined.capabilities?.simulcast ?? false });
    publisher = pub;
    pub.on('error', (error) => current() && !rejoining && fail(error));
    // Lost and published again on its own (same camera and microphone): show it, no reload.
    pub.on('reconnecting', (attempt) => attempt === 1 && reconnects++);
    pub.on('statechange', (next) => {
      if (!current() || rejoining) return;
      if (next === 'reconnecting') setState('reconnecting');
      else if (next === 'live' && state === 'reconnecting') setState('live');
    });
    await pub.start(media.stream);
    if (!current()) return false;
    screenShare.setPublisher(pub);
    program?.startWhenReady(client);
    // The other stage members (our own tracks are never sent back to us); a rejoin replaces the old view.
    stageView?.destroy();
    const view = new StageView(client, $('#stage'), { iceServers: toRtcIceServers(joined.iceServers), selfId: joined.participantId, simulcast: joined.capabilities?.simulcast ?? false }, (error) => console.warn(error.message));
    stageView = view;
    // The stage view is a preview: losing it leaves the publication live.
    view.start().catch((err: unknown) => console.warn(`stage view: ${describe(err)}`));
    return true;
  } catch (err) {
    if (current()) {
      if (rejoining) {
        publisher?.destroy();
        client.destroy();
        publisher = undefined;
        signaling = undefined;
      } else {
        fail(err instanceof PlayerErrorException ? err.data : undefined, err);
      }
    }
    throw err;
  }
}

/**
 * The node hosting the room went away (killed, or shutting down): join again from the start,
 * through the page's own node, which finds where the room lives now (placed again on a live
 * node in a cluster), and publish the same tracks there. Same schedule as the publisher's own
 * recovery (Reconnector).
 */
async function rejoinAfterLoss(): Promise<void> {
  if (rejoining) return;
  rejoining = true;
  const lost = publisher;
  const client = signaling;
  publisher = undefined;
  signaling = undefined;
  lost?.destroy();
  client?.destroy();
  // The new session builds a new stage view, empty until the others' tracks come again.
  poster.show(stageView, (still) => $('#stage').after(still));
  setState('reconnecting');
  reconnects++;
  const outcome = await rejoiner.retry(async () => {
    if (!(await join())) throw new Error('stopped');
  });
  rejoining = false;
  if (outcome === 'recovered') {
    setState('live');
    void poster.removeOnFrames(stageView);
  } else poster.remove();
  if (outcome === 'exhausted') fail(undefined, new Error('the room could not be joined again'));
}

/** Stops rejoining and hands back the publisher and signaling client for the caller to end. */
function detachSession(): { pub: Publisher | undefined; client: SignalingClient | undefined } {
  rejoiner.cancel();
  rejoining = false;
  const detached = { pub: publisher, client: signaling };
  publisher = undefined;
  signaling = undefined;
  chat.detach();
  endPreviews();
  return detached;
}

async function stop(): Promise<void> {
  const { pub, client } = detachSession();
  await pub?.stop();
  pub?.destroy();
  await client?.leave();
  setState('stopped');
}

function fail(error: PlayerError | undefined, err?: unknown): void {
  const { pub, client } = detachSession();
  pub?.destroy();
  client?.destroy();
  setState('error', error?.message ?? describe(err));
}

/** Not live any more: the share, the stage view and the program preview end. */
function endPreviews(): void {
  poster.remove();
  screenShare.setPublisher(undefined);
  stageView?.destroy();
  stageView = undefined;
  program?.stop();
}

goLiveButton.addEventListener('click', () => void goLive());
stopButton.addEventListener('click', () => void stop());
addEventListener('pagehide', () => {
  endPreviews();
  screenShare.destroy();
  publisher?.destroy();
  signaling?.destroy();
  meter.destroy();
  media.destroy();
});

if (!token) {
  setState('error', 'missing token in the page URL (?room=…&token=…)');
} else {
  setState('idle');
  startPreview().catch((err) => fail(err instanceof PlayerErrorException ? err.data : undefined, err));
}
