/**
 * The watch page: one player for everyone in a room, chosen by role. It joins over signaling
 * with the token from the page URL; the `joined` message's role picks the view:
 *   - viewer (audience): HlsView, the room's LL-HLS broadcast with hls.js in low-latency mode;
 *   - presenter, moderator (stage members): StageView, the stage over WebRTC, one tile per
 *     publisher.
 * Each view is an object with start()/stop()/destroy() and owns its DOM, so a role change can
 * later swap them in place (`showView`) without a reload.
 *
 * Status (`data-testid="status"`): `connecting`, then for the stage `watching`; for the
 * broadcast `waiting for broadcast`, `playing`, `stalled`, `ended`; `error: …` on failure.
 *
 * Test hooks, `window.__watch`:
 *   pc, tiles()   stage view: its RTCPeerConnection; per-publisher `{ participantId,
 *                 framesDecoded, audioBytes }` from receiver stats
 *   hls           broadcast view: live snapshot `{ state, currentTime, latencySec,
 *                 framesDecoded, audioTracks, audioDecodedBytes, fatalErrors, errors, … }`,
 *                 null when the page shows the stage
 *   role          the role the page plays for
 */
import './ui/player.css';
import { PlayerErrorException, describe, type PlayerError } from './core/errors.ts';
import { HlsView, type HlsViewSnapshot, type HlsViewState } from './hls/hls-view.ts';
import { SignalingClient } from './signaling/signaling-client.ts';
import type { Role } from './signaling/signaling-types.ts';
import { $, queryParam } from './ui/dom.ts';
import { StageGrid } from './ui/stage-grid.ts';
import { StatusView } from './ui/status-view.ts';
import { toRtcIceServers } from './webrtc/ice.ts';
import { StageSubscriber, type TileStats } from './webrtc/stage-subscriber.ts';

/** What the page shows: the stage over WebRTC, or the broadcast over HLS. */
interface WatchView {
  readonly kind: 'stage' | 'broadcast';
  start(): Promise<void>;
  /** Stops showing; may be started again. Idempotent. */
  stop(): Promise<void>;
  /** Stops and drops every listener. Idempotent. */
  destroy(): void;
}

/** The stage over WebRTC: a StageSubscriber feeding the tile grid. */
class StageView implements WatchView {
  readonly kind = 'stage';
  private readonly signaling: SignalingClient;
  private readonly grid: StageGrid;
  private readonly iceServers: RTCIceServer[];
  private readonly onFatal: (error: PlayerError) => void;
  private subscriber: StageSubscriber | undefined;

  constructor(signaling: SignalingClient, grid: StageGrid, iceServers: RTCIceServer[], onFatal: (error: PlayerError) => void) {
    this.signaling = signaling;
    this.grid = grid;
    this.iceServers = iceServers;
    this.onFatal = onFatal;
  }

  get pc(): RTCPeerConnection | undefined {
    return this.subscriber?.pc;
  }

  tiles(): Promise<TileStats[]> {
    return this.subscriber ? this.subscriber.stats() : Promise.resolve([]);
  }

  async start(): Promise<void> {
    if (this.subscriber) return;
    const sub = new StageSubscriber(this.signaling, { iceServers: this.iceServers });
    this.subscriber = sub;
    sub.on('tileadded', (tile) => this.grid.add(tile));
    sub.on('tileupdated', (tile) => this.grid.update(tile));
    sub.on('tileremoved', (tile) => this.grid.remove(tile.participantId));
    sub.on('error', (error) => this.onFatal(error));
    await sub.start();
  }

  async stop(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) {
      await sub.stop();
      sub.destroy();
    }
    this.grid.clear();
  }

  destroy(): void {
    this.subscriber?.destroy();
    this.subscriber = undefined;
    this.grid.clear();
  }
}

/** The broadcast over LL-HLS. */
class BroadcastView implements WatchView {
  readonly kind = 'broadcast';
  readonly player: HlsView;

  constructor(root: HTMLElement, src: string, latencyEl: HTMLElement, onState: (state: HlsViewState, view: HlsView) => void) {
    this.player = new HlsView(root, { src }, latencyEl);
    this.player.on('statechange', (state) => onState(state, this.player));
  }

  start(): Promise<void> {
    return this.player.start();
  }

  stop(): Promise<void> {
    return this.player.stop();
  }

  destroy(): void {
    this.player.destroy();
  }
}

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

const room = queryParam('room');
const token = queryParam('token');

const status = new StatusView($('[data-testid="status"]'));
$('#room').textContent = room ? `room ${room}` : '';
const stageEl = $('#stage');
const broadcastEl = $('#broadcast');
const latencyEl = $('[data-testid="latency"]');
const identities = new Map<string, string>();
const grid = new StageGrid(stageEl, (participantId) => identities.get(participantId) ?? 'guest');

let signaling: SignalingClient | undefined;
let view: WatchView | undefined;
let role: Role | undefined;
let failed = false;

(window as unknown as { __watch: unknown }).__watch = {
  get pc() {
    return view instanceof StageView ? view.pc : undefined;
  },
  tiles(): Promise<TileStats[]> {
    return view instanceof StageView ? view.tiles() : Promise.resolve([]);
  },
  get hls(): HlsViewSnapshot | null {
    return view instanceof BroadcastView ? view.player.snapshot() : null;
  },
  get role() {
    return role;
  },
};

function viewFor(role: Role, client: SignalingClient, roomId: string, iceServers: RTCIceServer[]): WatchView {
  if (role === 'viewer') {
    return new BroadcastView(broadcastEl, `/hls/${encodeURIComponent(roomId)}/index.m3u8`, latencyEl, (state, player) => {
      if (failed) return;
      if (state === 'failed') status.set('error', player.failure ?? 'broadcast playback failed');
      else status.set(BROADCAST_STATUS[state]);
    });
  }
  return new StageView(client, grid, iceServers, (error) => fail(error));
}

/** Replaces the current view with `next` (stopping the old one first) and starts it. */
async function showView(next: WatchView): Promise<void> {
  const previous = view;
  view = next;
  if (previous) {
    await previous.stop();
    previous.destroy();
  }
  // Not `hidden`: the stylesheet's `display: grid` on .stage would win over it.
  stageEl.style.display = next.kind === 'stage' ? '' : 'none';
  broadcastEl.style.display = next.kind === 'broadcast' ? '' : 'none';
  await next.start();
}

async function watch(token: string): Promise<void> {
  status.set('connecting');
  const client = new SignalingClient({ token, room });
  signaling = client;
  client.on('error', (error) => {
    if (!error.fatal) return;
    // The broadcast does not need signaling: an audience member keeps watching without it.
    if (view?.kind === 'broadcast') console.warn(`signaling lost: ${error.message}`);
    else fail(error);
  });
  client.on('participantJoined', ({ participant }) => {
    identities.set(participant.participantId, participant.identity);
    grid.relabel();
  });
  const joined = await client.connect();
  for (const p of joined.participants) identities.set(p.participantId, p.identity);
  role = joined.role;
  $('#room').textContent = `room ${joined.roomId} · ${joined.identity} (${joined.role})`;
  await showView(viewFor(joined.role, client, joined.roomId, toRtcIceServers(joined.iceServers)));
  if (!failed && view?.kind === 'stage') status.set('watching');
}

function fail(error: PlayerError | undefined, err?: unknown): void {
  if (failed) return;
  failed = true;
  view?.destroy();
  signaling?.destroy();
  grid.clear();
  status.set('error', error?.message ?? describe(err));
}

addEventListener('pagehide', () => {
  view?.destroy();
  signaling?.destroy();
});

if (!token) status.set('error', 'missing token in the page URL (?room=…&token=…)');
else watch(token).catch((err) => fail(err instanceof PlayerErrorException ? err.data : undefined, err));
