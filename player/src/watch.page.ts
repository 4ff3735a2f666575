/**
 * The watch page: one player for everyone in a room, switching live by role (no reload).
 *   - viewer (audience): the room's LL-HLS broadcast (HlsView), with a Raise hand button;
 *   - presenter, moderator, and a viewer a moderator promoted (`guest`): the stage over WebRTC
 *     (StageView); a guest also publishes its camera and microphone after a consent prompt.
 * The policy lives in switching/role-switch-controller.ts; this file wires the DOM, signaling,
 * the hand button, the consent prompt, status and the test hooks.
 *
 * Status (`data-testid="status"`): `connecting`; on the broadcast `waiting for broadcast`,
 * `playing`, `stalled`, `ended`; on the stage `watching`, or `on stage` while publishing;
 * `switching` during a switch; `reconnecting` while a stage member joins again after losing
 * its node; `removed by a moderator` after a kick; `error: …`.
 *
 * A stage member (on the WebRTC view) whose node went away (killed: close 1006 or no pong;
 * shutting down: 1001; failed: 1011) joins again through the page's entry URL, which finds the
 * room where it lives now, with the studio's backoff, and shows the stage again without a
 * reload (the old stage's last frames stay on screen, `data-testid="stage-poster"`, until the new
 * stage view shows its own); a guest that had accepted the prompt is not asked again. The audience keeps playing
 * the broadcast, which carries on under the same URL, untouched, and joins again the same way
 * for chat, the hand and promotions (rejoinAfterLoss).
 *
 * Test hooks, `window.__watch`:
 *   mode          'hls' | 'webrtc' | 'switching'
 *   switches      [{ to, startedAt, consentAt?, firstFrameAt, shownAt, doneAt, abandoned? }] (wall clock ms)
 *   samples       frames sampled every 100 ms during each switch (switching/frame-sampler.ts)
 *   pc, tiles()   stage view: its RTCPeerConnection; per-publisher `{ participantId,
 *                 framesDecoded, audioBytes }` from receiver stats
 *   hls           broadcast view: live snapshot (HlsViewSnapshot), null while it has none
 *   audible       which view plays sound: 'hls' | 'webrtc' | 'none' | 'both' (must never be 'both')
 *   role, participantId, publishing (publisher state), handRaised, kicked
 *   rejoins       how many times the page joined again after losing its node
 *   stageReconnects  how many times the stage view lost its subscription and subscribed again
 *   activeSpeaker    the participant the server last named as the dominant speaker
 *   metadata      timed metadata the page showed: `{ via: 'hls'|'recording', id, payload, startTime, mediaTime, firedAt }`
 *                 or `{ via: 'stage', id, payload, at, firedAt }` (recording/watch-extras.ts)
 *   recording     the latest recording's player once the live has ended (RecordingSnapshot), else null
 *   setLayers(participantId, { spatialLayer, temporalLayer? } | 'auto')  explicit simulcast layer
 *                 choice for a tile; rejects with the server's error (`unsupported` without simulcast)
 */
import './ui/player.css';
import { ChatPanel } from './chat/chat-panel.ts';
import { ErrorDetails, PlayerErrorException, describe, type PlayerError } from './core/errors.ts';
import type { HlsViewSnapshot, HlsViewState } from './hls/hls-view.ts';
import { ModerationClient } from './moderation/moderation-client.ts';
import { SignalingClient } from './signaling/signaling-client.ts';
import type { Role, ServerMessageOf } from './signaling/signaling-types.ts';
import { FrameSampler } from './switching/frame-sampler.ts';
import { PlaybackTokenSource } from './hls/playback-token.ts';
import { RoleSwitchController } from './switching/role-switch-controller.ts';
import { WatchExtras } from './recording/watch-extras.ts';
import { $, queryParam } from './ui/dom.ts';
import { StatusView } from './ui/status-view.ts';
import { toRtcIceServers } from './webrtc/ice.ts';
import { DEFAULT_RECONNECT_DELAYS_MS, isNodeLoss } from './webrtc/reconnect-policy.ts';
import { Reconnector } from './webrtc/reconnector.ts';
import type { TileStats } from './webrtc/stage-subscriber.ts';
import type { LayerChoice } from './webrtc/stage-view.ts';
import { StagePoster } from './webrtc/stage-poster.ts';

const BROADCAST_STATUS: Record<HlsViewState, string> = {
  idle: 'connecting',
  loading: 'connecting',
  waiting: 'waiting for broadcast',
  playing: 'playing',
  stalled: 'stalled',
  ended: 'ended',
  failed: 'error',
  stopped: 'stopped',
};

/** How long the sampler keeps sampling after a switch is done: catches a late black or frozen picture. */
const SAMPLE_AFTER_SWITCH_MS = 1000;

const room = queryParam('room');
const token = queryParam('token');

const status = new StatusView($('[data-testid="status"]'));
$('#room').textContent = room ? `room ${room}` : '';
const viewsEl = $('[data-testid="views"]');
const stageEl = $('#stage');
const broadcastEl = $('#broadcast');
const latencyEl = $('[data-testid="latency"]');
const handButton = $<HTMLButtonElement>('[data-testid="raise-hand"]');
const consentEl = $('[data-testid="consent"]');
const acceptButton = $<HTMLButtonElement>('[data-testid="consent-accept"]');
const declineButton = $<HTMLButtonElement>('[data-testid="consent-decline"]');
const identities = new Map<string, string>();
const chat = new ChatPanel($('main'));

let signaling: SignalingClient | undefined;
let controller: RoleSwitchController | undefined;
let sampler: FrameSampler | undefined;
let extras: WatchExtras | undefined;
let samplerStop: ReturnType<typeof setTimeout> | undefined;
let role: Role | undefined;
let participantId: string | undefined;
let handRaised = false;
let kicked = false;
let failed = false;
let moderation: ModerationClient | undefined;
const rejoiner = new Reconnector(DEFAULT_RECONNECT_DELAYS_MS, 'watch');
let rejoining = false;
let rejoins = 0;
/** The user accepted going on stage; a guest joining again after a node loss is not asked again. */
let consented = false;
/**
 * The old stage's last frames, shown while a rejoin builds the stage view again (at most 20 s:
 * the room's publishers join again on their own schedule, and an empty new stage, nobody back
 * yet, is no reason to go black before then).
 */
const poster = new StagePoster();

(window as unknown as { __watch: unknown }).__watch = {
  get mode() {
    return controller?.mode ?? 'switching';
  },
  get switches() {
    return controller ? controller.switches.map((s) => ({ ...s })) : [];
  },
  get samples() {
    return sampler ? [...sampler.samples] : [];
  },
  get pc() {
    return controller?.stageView?.pc;
  },
  tiles(): Promise<TileStats[]> {
    return controller?.stageView?.tiles() ?? Promise.resolve([]);
  },
  get hls(): HlsViewSnapshot | null {
    return controller?.hlsView?.snapshot() ?? null;
  },
  get audible() {
    return audibleNow();
  },
  get role() {
    return role;
  },
  get participantId() {
    return participantId;
  },
  get publishing() {
    return controller?.publisherState;
  },
  get handRaised() {
    return handRaised;
  },
  get kicked() {
    return kicked;
  },
  get rejoins() {
    return rejoins;
  },
  get stageReconnects() {
    return controller?.stageView?.reconnects ?? 0;
  },
  get activeSpeaker() {
    return controller?.stageView?.activeSpeaker;
  },
  get metadata() {
    return extras ? extras.seen.map((m) => ({ ...m })) : [];
  },
  get recording() {
    return extras?.recordingSnapshot ?? null;
  },
  async setLayers(id: string, layers: LayerChoice | 'auto'): Promise<void> {
    const stage = controller?.stageView;
    if (!stage) throw new Error('no stage view');
    try {
      await stage.setLayers(id, layers);
    } catch (err) {
      // Errors cross into the test as plain text: keep the server's code.
      throw new Error(err instanceof PlayerErrorException ? `${err.data.code ?? err.data.details}: ${err.data.message}` : describe(err), { cause: err });
    }
  },
};

/** Which view plays sound now; 'both' would be a bug (audio twice). */
function audibleNow(): 'hls' | 'webrtc' | 'both' | 'none' {
  const hls = controller?.hlsView?.videoElement;
  const hlsAudible = !!hls && !hls.muted && !hls.paused;
  const stageAudible = [...stageEl.querySelectorAll('video')].some((v) => !v.muted && !v.paused);
  return hlsAudible && stageAudible ? 'both' : hlsAudible ? 'hls' : stageAudible ? 'webrtc' : 'none';
}

function setFront(kind: 'hls' | 'webrtc'): void {
  stageEl.dataset.front = String(kind === 'webrtc');
  broadcastEl.dataset.front = String(kind === 'hls');
  viewsEl.dataset.mode = kind;
}

/** Shows the consent prompt; resolves with the user's answer. */
function askConsent(): Promise<boolean> {
  if (rejoining && consented) return Promise.resolve(true);
  consentEl.hidden = false;
  return new Promise((resolve) => {
    const answer = (accepted: boolean) => () => {
      acceptButton.removeEventListener('click', onAccept);
      declineButton.removeEventListener('click', onDecline);
      consentEl.hidden = true;
      consented = accepted;
      resolve(accepted);
    };
    const onAccept = answer(true);
    const onDecline = answer(false);
    acceptButton.addEventListener('click', onAccept);
    declineButton.addEventListener('click', onDecline);
  });
}

function refreshHandButton(): void {
  handButton.hidden = role !== 'viewer' || kicked || failed || !moderation;
  handButton.textContent = handRaised ? 'Lower hand' : 'Raise hand';
  handButton.setAttribute('aria-pressed', String(handRaised));
}

function refreshStatus(): void {
  if (failed || kicked || !controller) return;
  const mode = controller.mode;
  if (mode === 'switching') status.set('switching');
  else if (mode === 'webrtc') status.set(controller.publisherState === 'live' ? 'on stage' : 'watching');
  else {
    const hls = controller.hlsView;
    if (!hls) return;
    if (hls.state === 'failed') status.set('error', hls.failure ?? 'broadcast playback failed');
    else status.set(BROADCAST_STATUS[hls.state]);
  }
}

handButton.addEventListener('click', () => {
  if (!moderation) return;
  const request = handRaised ? moderation.lowerHand() : moderation.raiseHand();
  handButton.disabled = true;
  request
    .catch((err: unknown) => console.warn(`hand: ${err instanceof PlayerErrorException ? err.data.message : describe(err)}`))
    .finally(() => (handButton.disabled = false));
});

async function watch(token: string): Promise<void> {
  if (!rejoining) status.set('connecting');
  const { client, joined } = await join(token);
  await startViews(client, joined, token);
}

/** Joins the room over signaling: a new client with the page's handlers, and chat and the hand button bound to it. */
async function join(token: string): Promise<{ client: SignalingClient; joined: ServerMessageOf<'joined'> }> {
  const client = new SignalingClient({ token, room });
  signaling = client;
  moderation = new ModerationClient(client);
  handRaised = false;
  // A rejoin replaces `signaling`: events of a client that is no longer the page's are ignored.
  const current = () => signaling === client;
  let closingError: PlayerError | undefined;
  // The broadcast does not need signaling: an audience member whose session ended for good keeps watching.
  const keepWatching = (error: PlayerError) => {
    console.warn(`signaling lost: ${error.message}`);
    dropSignaling();
  };
  client.on('error', (error) => {
    if (!error.fatal || kicked || !current() || rejoining) return;
    // A lost socket: its `close` (next) tells whether the node went away or the server ended it.
    if (error.details === ErrorDetails.SOCKET_CLOSED) closingError = error;
    else if (error.details === ErrorDetails.HEARTBEAT_TIMEOUT) void rejoinAfterLoss();
    else if (controller?.mode === 'hls') keepWatching(error);
    else fail(error);
  });
  client.on('close', (info) => {
    if (info.code === 4010 || info.bye === 'kicked') return removed();
    if (!current() || rejoining || kicked || failed || !closingError) return;
    if (isNodeLoss(info)) void rejoinAfterLoss();
    else if (controller?.mode === 'hls') keepWatching(closingError);
    else fail(closingError);
  });
  client.on('participantKicked', (message) => {
    if (message.participantId === participantId) removed();
  });
  client.on('participantJoined', ({ participant }) => {
    identities.set(participant.participantId, participant.identity);
    controller?.stageView?.relabel();
  });
  client.on('handRaised', (message) => {
    if (message.participantId !== participantId) return;
    handRaised = true;
    refreshHandButton();
  });
  client.on('handLowered', (message) => {
    if (message.participantId !== participantId) return;
    handRaised = false;
    refreshHandButton();
  });
  client.on('roleChanged', (message) => {
    if (message.participantId !== participantId) return;
    role = message.role;
    refreshHandButton();
  });
  const joined = await client.connect();
  for (const p of joined.participants) identities.set(p.participantId, p.identity);
  role = joined.role;
  participantId = joined.participantId;
  $('#room').textContent = `room ${joined.roomId} · ${joined.identity} (${joined.role})`;
  refreshHandButton();
  chat.attach(client);
  return { client, joined };
}

/** Builds the views for the joined session's role: the broadcast, or the stage. */
async function startViews(client: SignalingClient, joined: ServerMessageOf<'joined'>, token: string): Promise<void> {
  // A private room's broadcast needs a playback token; a public room's does not (`token` stays undefined).
  const playback = new PlaybackTokenSource(joined.roomId, token);
  await playback.start().catch((err: unknown) => console.warn(`playback token: ${describe(err)}`));
  const ctl = new RoleSwitchController({
    signaling: client,
    selfId: joined.participantId,
    iceServers: toRtcIceServers(joined.iceServers),
    hlsSrc: `/hls/${encodeURIComponent(joined.roomId)}/index.m3u8`,
    playbackToken: () => playback.token,
    hlsRoot: broadcastEl,
    stageRoot: stageEl,
    setFront,
    consent: askConsent,
    labelFor: (id) => identities.get(id) ?? 'guest',
    latencyEl,
    simulcast: joined.capabilities?.simulcast ?? false,
  });
  controller = ctl;
  const frames = new FrameSampler(() => ({ ...ctl.visible(), audible: audibleNow() }));
  sampler = frames;
  ctl.on('modechange', refreshStatus);
  extras = new WatchExtras({ room: joined.roomId, broadcastRoot: broadcastEl, overlayRoot: viewsEl, signaling: client, hlsView: () => ctl.hlsView });
  ctl.on('hlsstate', (state, view) => {
    if (view !== ctl.hlsView) return;
    refreshStatus();
    extras?.hlsState(state);
  });
  ctl.on('publishstate', refreshStatus);
  ctl.on('switchstart', (record, index) => {
    // Back to the broadcast after a rejoin: the still of the old stage has nothing more to cover.
    if (record.to === 'hls') poster.remove();
    clearTimeout(samplerStop);
    frames.start(index);
  });
  // One sample on the first painted frame after the swap, besides the 100 ms grid.
  ctl.on('switchshown', () => requestAnimationFrame(() => requestAnimationFrame(() => frames.running && frames.sample())));
  ctl.on('switchdone', () => {
    clearTimeout(samplerStop);
    samplerStop = setTimeout(() => frames.stop(), SAMPLE_AFTER_SWITCH_MS);
  });
  ctl.on('error', (error) => {
    if (error.fatal) fail(error);
    else console.warn(`player: ${error.message}`);
  });
  await ctl.start(joined.role);
  refreshStatus();
}

/** Ends the page's session: views, capture, publishing, chat and signaling. */
function endSession(): void {
  consentEl.hidden = true;
  extras?.destroy();
  extras = undefined;
  sampler?.destroy();
  sampler = undefined;
  controller?.destroy();
  controller = undefined;
  dropSignaling();
}

/** Ends the signaling session (chat, hand, moderation); the views stay as they are. */
function dropSignaling(): void {
  chat.detach();
  signaling?.destroy();
  signaling = undefined;
  moderation = undefined;
  handRaised = false;
  refreshHandButton();
}

/**
 * The node hosting the room went away: join again from the start, through the page's own node
 * (a cluster places the room on a live node), on the studio's schedule. The page is not
 * reloaded.
 *   - The audience (the broadcast alone showing) keeps playing it, untouched: only the session
 *     is new (chat, the hand, a later promotion), handed to the same views (`rebind`). Should
 *     every attempt fail, it goes on watching without signaling.
 *   - A stage member's views are built again; the status reads `reconnecting` meanwhile.
 */
async function rejoinAfterLoss(): Promise<void> {
  if (rejoining || kicked || failed || !token) return;
  rejoining = true;
  rejoins++;
  const keepViews = controller?.rebindable ?? false;
  if (keepViews) dropSignaling();
  else {
    // The stage's last frames stay on screen until the new stage view shows its own.
    showPoster();
    endSession();
    status.set('reconnecting');
  }
  const outcome = await rejoiner.retry(async () => {
    try {
      if (!keepViews) return await watch(token);
      const ctl = controller;
      if (!ctl?.rebindable) throw new Error('the broadcast view went away');
      const { client, joined } = await join(token);
      ctl.rebind(
        { signaling: client, selfId: joined.participantId, iceServers: toRtcIceServers(joined.iceServers), simulcast: joined.capabilities?.simulcast ?? false },
        joined.role,
      );
      extras?.rebind(client);
    } catch (err) {
      if (rejoining) (keepViews ? dropSignaling : endSession)();
      throw err;
    }
  });
  rejoining = false;
  if (outcome === 'recovered') {
    refreshStatus();
    void poster.removeOnFrames(controller?.stageView);
  } else poster.remove();
  if (outcome === 'exhausted') {
    if (keepViews && controller) console.warn('signaling lost: the room could not be joined again; the broadcast plays on');
    else fail(undefined, new Error('the room could not be joined again'));
  }
}

function showPoster(): void {
  const stage = controller?.visible().view === 'webrtc' ? controller.stageView : undefined;
  poster.show(stage, (still) => viewsEl.append(still));
}

/** Kicked: stop capture, publishing and both views; the identity is blocked in this room. */
function removed(): void {
  if (kicked) return;
  kicked = true;
  rejoiner.cancel();
  rejoining = false;
  poster.remove();
  endSession();
  refreshHandButton();
  status.set('removed by a moderator');
}

function fail(error: PlayerError | undefined, err?: unknown): void {
  if (failed || kicked) return;
  failed = true;
  rejoiner.cancel();
  rejoining = false;
  poster.remove();
  endSession();
  refreshHandButton();
  status.set('error', error?.message ?? describe(err));
}

addEventListener('pagehide', () => {
  rejoiner.cancel();
  endSession();
});

if (!token) status.set('error', 'missing token in the page URL (?room=…&token=…)');
else watch(token).catch((err) => fail(err instanceof PlayerErrorException ? err.data : undefined, err));
