/**
 * The stage view. Joins with the token from the page URL, subscribes to the stage over
 * WebRTC and shows one tile per publisher. (It will become the role-switching player: HLS
 * for the audience, WebRTC for stage members.)
 *
 * Exposes `window.__watch = { pc, tiles() }` for tests: `tiles()` resolves with
 * `[{ participantId, framesDecoded, audioBytes }]` from each tile's receiver stats.
 */
import './ui/player.css';
import { PlayerErrorException, describe, type PlayerError } from './core/errors.ts';
import { SignalingClient } from './signaling/signaling-client.ts';
import { $, queryParam } from './ui/dom.ts';
import { StageGrid } from './ui/stage-grid.ts';
import { StatusView } from './ui/status-view.ts';
import { toRtcIceServers } from './webrtc/ice.ts';
import { StageSubscriber, type TileStats } from './webrtc/stage-subscriber.ts';

const room = queryParam('room');
const token = queryParam('token');

const status = new StatusView($('[data-testid="status"]'));
$('#room').textContent = room ? `room ${room}` : '';
const identities = new Map<string, string>();
const grid = new StageGrid($('#stage'), (participantId) => identities.get(participantId) ?? 'guest');

let signaling: SignalingClient | undefined;
let subscriber: StageSubscriber | undefined;
let failed = false;

(window as unknown as { __watch: unknown }).__watch = {
  get pc() {
    return subscriber?.pc;
  },
  tiles(): Promise<TileStats[]> {
    return subscriber ? subscriber.stats() : Promise.resolve([]);
  },
};

async function watch(token: string): Promise<void> {
  status.set('connecting');
  const client = new SignalingClient({ token, room });
  signaling = client;
  client.on('error', (error) => error.fatal && fail(error));
  client.on('participantJoined', ({ participant }) => {
    identities.set(participant.participantId, participant.identity);
    grid.relabel();
  });
  const joined = await client.connect();
  for (const p of joined.participants) identities.set(p.participantId, p.identity);
  $('#room').textContent = `room ${joined.roomId} · ${joined.identity} (${joined.role})`;

  const sub = new StageSubscriber(client, { iceServers: toRtcIceServers(joined.iceServers) });
  subscriber = sub;
  sub.on('tileadded', (tile) => grid.add(tile));
  sub.on('tileupdated', (tile) => grid.update(tile));
  sub.on('tileremoved', (tile) => grid.remove(tile.participantId));
  sub.on('error', (error) => fail(error));
  await sub.start();
  if (!failed) status.set('watching');
}

function fail(error: PlayerError | undefined, err?: unknown): void {
  if (failed) return;
  failed = true;
  subscriber?.destroy();
  signaling?.destroy();
  grid.clear();
  status.set('error', error?.message ?? describe(err));
}

addEventListener('pagehide', () => {
  subscriber?.destroy();
  signaling?.destroy();
});

if (!token) status.set('error', 'missing token in the page URL (?room=…&token=…)');
else watch(token).catch((err) => fail(err instanceof PlayerErrorException ? err.data : undefined, err));
