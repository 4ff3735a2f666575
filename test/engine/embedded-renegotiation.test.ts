import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import type { SubscriberOffer } from '../../services/engine/EngineTypes.ts';
import { peerConfig } from '../../services/engine/embedded/peerConfig.ts';
import { SubscriberLeg } from '../../services/engine/embedded/SubscriberLeg.ts';
import type { TrackRelay } from '../../services/engine/embedded/TrackRelay.ts';
import { sleep, waitFor } from '../support/wait.ts';

/**
 * The embedded engine's subscriber offers, one at a time, when stage tracks arrive while an
 * offer is being built. An offer is built over several awaits (createOffer, setLocalDescription,
 * ICE gathering): a track attached during them may be missing from it, and must then be in a
 * later offer. It used to be dropped: the change waited its turn, found the offer outstanding,
 * and gave up without marking the next offer due. Seen end to end as a stage member whose
 * tile got a publisher's audio and never its video, when both joined at once.
 *
 * The client here is werift's own RTCPeerConnection on loopback, which answers each offer; no
 * media flows.
 */

const OPTIONS = { listenIp: '127.0.0.1', portRange: [44000, 44999] as [number, number], iceServers: [] };
/** The client's own ports, on loopback as the leg's (its ICE must not fail and close the leg). */
const newClient = () => new RTCPeerConnection(peerConfig({ ...OPTIONS, portRange: [45000, 45999] }));

/** What SubscriberLeg uses of a relay: its track, its codec, and sinks (which receive nothing here). */
function relay(trackId: string, kind: 'audio' | 'video'): TrackRelay {
  const codec =
    kind === 'audio'
      ? new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 })
      : new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96 });
  const info = { trackId, kind, peerId: `pub-${trackId}`, streamId: `stream-${trackId}`, codec: codec.mimeType };
  return { info, codec, addSink: () => {}, removeSink: () => {} } as unknown as TrackRelay;
}

describe('embedded engine: subscriber offers while tracks arrive', () => {
  it('a track that arrives while the first offer is built waits for that offer to be answered, then comes in the next', async () => {
    const leg = new SubscriberLeg('viewer', OPTIONS);
    const client = newClient();
    const log: string[] = [];
    const offers: SubscriberOffer[] = [];
    leg.on('offer', (offer) => {
      log.push(`offer ${offer.version}`);
      offers.push(offer);
    });
    try {
      const pending = leg.offer([relay('a', 'audio')]);
      await nextTurn();
      leg.addRelay(relay('v', 'video'));
      const first = await pending;
      log.push(`first ${first.version}`);
      await sleep(200);
      // One offer outstanding at a time, numbered in the order they go out.
      assert.deepEqual(log, ['first 1'], 'no second offer while the first is unanswered');
      await client.setRemoteDescription({ type: 'offer', sdp: first.offer });
      await client.setLocalDescription(await client.createAnswer());
      await leg.applyAnswer(first.version, client.localDescription!.sdp);
      const next = await waitFor('the next offer', 10000, () => offers[0]);
      assert.equal(next!.version, 2);
      assert.deepEqual(Object.values(next!.mids).map((t) => t.trackId).sort(), ['a', 'v']);
    } finally {
      leg.close('client_request');
      await client.close();
    }
  });

  for (const [name, gap] of [
    ['the next turn', () => nextTurn()],
    ['1 ms', () => sleep(1)],
    ['5 ms', () => sleep(5)],
  ] as const) {
    it(`every track added during an offer (${name} apart) is in a later offer, and the client's last answer holds them all`, async () => {
      const leg = new SubscriberLeg('viewer', OPTIONS);
      const client = newClient();
      const offers: SubscriberOffer[] = [];
      leg.on('offer', (offer) => offers.push(offer));
      let answered = 0;
      const answer = async (offer: SubscriberOffer) => {
        await client.setRemoteDescription({ type: 'offer', sdp: offer.offer });
        await client.setLocalDescription(await client.createAnswer());
        await leg.applyAnswer(offer.version, client.localDescription!.sdp);
        answered = offer.version;
      };
      try {
        await answer(await leg.offer([]));
        const tracks = [relay('a1', 'audio'), relay('v1', 'video'), relay('a2', 'audio'), relay('v2', 'video')];
        for (const track of tracks) {
          leg.addRelay(track);
          await gap();
        }
        // Answer every offer in turn, as the player does, until none is due.
        let last: SubscriberOffer | undefined;
        await waitFor('the offers to settle', 20000, async () => {
          const next = offers.find((o) => o.version > answered);
          if (next) {
            await answer(next);
            last = next;
            return false;
          }
          await sleep(300);
          return !offers.some((o) => o.version > answered);
        });
        assert.ok(last, 'a renegotiation was offered');
        assert.deepEqual(Object.values(last.mids).map((t) => t.trackId).sort(), ['a1', 'a2', 'v1', 'v2'], `the last offer's tracks (offers ${offers.map((o) => o.version).join(', ')})`);
        const sending = client.getTransceivers().filter((t) => t.currentDirection === 'recvonly');
        assert.equal(sending.length, 4, "the client's m-lines that receive a track");
      } finally {
        leg.close('client_request');
        await client.close();
      }
    });
  }
});
