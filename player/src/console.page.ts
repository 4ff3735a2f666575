/**
 * The moderator's console: participants with their current roles, the raised-hand queue in
 * order, blocked identities, and the stage controls (promote, demote, mute, kick, unblock, end
 * the broadcast). Reads `room` and `token` from the page URL; every action goes over the
 * signaling socket and the server checks it against the current role.
 *
 * Test hooks: `data-testid` on rows (`participant`, with `data-participant-id`, `data-identity`,
 * `data-role`), buttons (`promote`, `demote`, `mute-audio`, `unmute-audio`, `mute-video`,
 * `unmute-video`, `kick`, `hand-promote`, `hand-lower`, `unblock`, `end-broadcast`), lists
 * (`hand-queue` > `hand`, `blocks` > `block`), `broadcast-state`, `action-error`, and `status`
 * (`connecting`, `ready`, `error: …`). The chat panel and audience count: chat/chat-panel.ts. `window.__console = { state, participantId, room }`.
 * Previews: the stage (`#stage`, a small StageView), the broadcast's health
 * (moderation/broadcast-health.ts) and the program (ui/program-preview.ts); `__console.health`
 * is the last health the server sent and `__console.program` the preview's snapshot.
 */
import './ui/player.css';
import './moderation/console.css';
import { ChatPanel } from './chat/chat-panel.ts';
import { PlayerErrorException, describe, type PlayerError } from './core/errors.ts';
import { ModerationClient } from './moderation/moderation-client.ts';
import { RoomState, type ParticipantView } from './moderation/room-state.ts';
import { SignalingClient } from './signaling/signaling-client.ts';
import type { ServerMessage } from './signaling/signaling-types.ts';
import { $, h, queryParam } from './ui/dom.ts';
import { StatusView } from './ui/status-view.ts';
import { BroadcastHealthView } from './moderation/broadcast-health.ts';
import { ProgramPreview } from './ui/program-preview.ts';
import { toRtcIceServers } from './webrtc/ice.ts';
import { StageView } from './webrtc/stage-view.ts';

/** Server messages that change what the console shows. */
const STATE_EVENTS = [
  'participantJoined',
  'participantLeft',
  'roleChanged',
  'handRaised',
  'handLowered',
  'trackPublished',
  'trackUnpublished',
  'trackMuted',
  'trackUnmuted',
  'identityBlocked',
  'identityUnblocked',
  'broadcastStarted',
  'broadcastEnded',
] as const satisfies readonly ServerMessage['type'][];

const room = queryParam('room');
const token = queryParam('token');

const status = new StatusView($('[data-testid="status"]'));
const participantsEl = $('[data-testid="participants"]');
const handQueueEl = $('[data-testid="hand-queue"]');
const blocksEl = $('[data-testid="blocks"]');
const broadcastStateEl = $('[data-testid="broadcast-state"]');
const endBroadcastButton = $<HTMLButtonElement>('[data-testid="end-broadcast"]');
const actionErrorEl = $('[data-testid="action-error"]');
const chat = new ChatPanel($('.console-side'));
$('#room').textContent = room ? `room ${room}` : '';

let signaling: SignalingClient | undefined;
let moderation: ModerationClient | undefined;
let state: RoomState | undefined;
let stageView: StageView | undefined;
let health: BroadcastHealthView | undefined;
const program = room ? new ProgramPreview($('#program'), room) : undefined;

(window as unknown as { __console: unknown }).__console = {
  get state() {
    return status.text;
  },
  get participantId() {
    return state?.selfId;
  },
  get room() {
    return state;
  },
  get health() {
    return health?.health ?? null;
  },
  get program() {
    return program?.snapshot() ?? null;
  },
};

/** Runs a moderation action; its failure is shown, never thrown. */
function act(action: (m: ModerationClient) => Promise<void>): void {
  if (!moderation) return;
  actionErrorEl.textContent = '';
  action(moderation).catch((err: unknown) => {
    actionErrorEl.textContent = err instanceof PlayerErrorException ? err.data.message : describe(err);
  });
}

function button(testId: string, label: string, onClick: () => void): HTMLButtonElement {
  const b = h('button', { type: 'button', 'data-testid': testId }, [label]);
  b.addEventListener('click', onClick);
  return b;
}

function describeState(p: ParticipantView): string {
  const parts: string[] = [];
  if (p.publishing) parts.push('on stage');
  if (p.handRaised) parts.push('hand raised');
  for (const kind of p.muted) parts.push(`${kind} muted`);
  return parts.join(', ');
}

function participantRow(p: ParticipantView, selfId: string): HTMLTableRowElement {
  const actions = h('td', { class: 'actions' });
  const id = p.participantId;
  if (p.role === 'viewer') actions.append(button('promote', 'Bring on stage', () => act((m) => m.promote(id))));
  if (p.role === 'guest') actions.append(button('demote', 'Send to audience', () => act((m) => m.demote(id))));
  for (const kind of ['audio', 'video'] as const) {
    actions.append(
      p.muted.includes(kind)
        ? button(`unmute-${kind}`, `Unmute ${kind}`, () => act((m) => m.unmute(id, kind)))
        : button(`mute-${kind}`, `Mute ${kind}`, () => act((m) => m.mute(id, kind))),
    );
  }
  if (id !== selfId) actions.append(button('kick', 'Kick', () => act((m) => m.kick(id))));
  return h(
    'tr',
    { 'data-testid': 'participant', 'data-participant-id': id, 'data-identity': p.identity, 'data-role': p.role, 'data-self': String(id === selfId) },
    [
      h('td', {}, [p.identity]),
      h('td', { class: 'role', 'data-testid': 'role', 'data-role': p.role }, [p.role]),
      h('td', {}, [p.transport]),
      h('td', { 'data-testid': 'participant-state' }, [describeState(p)]),
      actions,
    ],
  );
}

function render(): void {
  const s = state;
  if (!s) return;
  participantsEl.replaceChildren(...s.list().map((p) => participantRow(p, s.selfId)));
  handQueueEl.replaceChildren(
    ...s.handQueue.map((hand) =>
      h('li', { 'data-testid': 'hand', 'data-participant-id': hand.participantId, 'data-identity': hand.identity }, [
        h('span', {}, [hand.identity]),
        button('hand-promote', 'Bring on stage', () => act((m) => m.promote(hand.participantId))),
        button('hand-lower', 'Lower', () => act((m) => m.lowerHand(hand.participantId))),
      ]),
    ),
  );
  blocksEl.replaceChildren(
    ...s.blocks.map((block) =>
      h('li', { 'data-testid': 'block', 'data-identity': block.identity }, [
        h('span', {}, [block.reason ? `${block.identity} (${block.reason})` : block.identity]),
        button('unblock', 'Unblock', () => act((m) => m.unblock(block.identity))),
      ]),
    ),
  );
  broadcastStateEl.textContent = s.broadcast;
  endBroadcastButton.disabled = s.broadcast === 'ended' || s.broadcast === 'none';
}

endBroadcastButton.addEventListener('click', () => act((m) => m.endBroadcast()));

async function start(token: string): Promise<void> {
  status.set('connecting');
  const client = new SignalingClient({ token, room });
  signaling = client;
  client.on('error', (error) => {
    if (error.fatal) fail(error);
  });
  const joined = await client.connect();
  if (joined.role !== 'moderator') {
    fail(undefined, new Error(`this console needs a moderator token (role is ${joined.role})`));
    return;
  }
  $('#room').textContent = `room ${joined.roomId} · ${joined.identity}`;
  state = new RoomState(joined);
  moderation = new ModerationClient(client);
  for (const type of STATE_EVENTS) client.on(type, (message: ServerMessage) => state?.apply(message));
  state.on('change', render);
  render();
  chat.attach(client);
  status.set('ready');
  startPreviews(client, joined);
}

/** The stage (muted: the console watches, the program preview is muted too), the program and the health readout. */
function startPreviews(client: SignalingClient, joined: { participantId: string; iceServers: Parameters<typeof toRtcIceServers>[0]; capabilities?: { simulcast: boolean } }): void {
  const labelFor = (id: string) => state?.get(id)?.identity ?? id;
  stageView = new StageView(client, $('#stage'), { iceServers: toRtcIceServers(joined.iceServers), selfId: joined.participantId, audible: false, labelFor, simulcast: joined.capabilities?.simulcast ?? false }, (error) => console.warn(error.message));
  stageView.start().catch((err: unknown) => console.warn(`stage view: ${describe(err)}`));
  program?.startWhenReady(client);
  health = new BroadcastHealthView(client, $('#broadcast-health'), () => program?.latencySec ?? null);
  health.start();
}

function fail(error: PlayerError | undefined, err?: unknown): void {
  health?.stop();
  stageView?.destroy();
  program?.stop();
  signaling?.destroy();
  moderation = undefined;
  status.set('error', error?.message ?? describe(err));
}

addEventListener('pagehide', () => {
  health?.stop();
  stageView?.destroy();
  program?.destroy();
  signaling?.destroy();
});

if (!token) status.set('error', 'missing token in the page URL (?room=…&token=…)');
else start(token).catch((err) => fail(err instanceof PlayerErrorException ? err.data : undefined, err));
