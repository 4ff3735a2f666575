import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EmbeddedEngine } from '../../services/engine/embedded/EmbeddedEngine.ts';
import { sleep, waitFor } from '../support/wait.ts';

/**
 * Closing the embedded engine while a negotiation is in flight. werift opens the leg's UDP
 * socket during setLocalDescription; a close that lands before or during it used to leave that
 * socket open (the process never exited) and to hand out an answer for a leg already gone.
 * Each delay lands the close at a different point of the negotiation (or, for the longer ones on
 * a fast machine, after it): a negotiation the close cut short is refused, one that finished was
 * answered, and in every case no socket is left behind.
 */

const offer = readFileSync(new URL('../fixtures/sdp/chrome-publish-single.sdp', import.meta.url), 'utf8');
const whepOffer = readFileSync(new URL('../fixtures/sdp/chrome-whep-recvonly.sdp', import.meta.url), 'utf8');

function udpSockets(): number {
  const handles = (process as unknown as { _getActiveHandles(): { constructor: { name: string }; type?: string }[] })._getActiveHandles();
  return handles.filter((h) => h.constructor.name === 'Socket' && (h.type === 'udp4' || h.type === 'udp6')).length;
}

describe('embedded engine: close during a negotiation', () => {
  const outcomes: string[] = [];
  for (const delayMs of [0, 1, 5, 10, 30, 60, 100]) {
    it(`closed ${delayMs} ms into a publish and a WHEP subscribe: refused with invalid_state unless already answered; no UDP socket left open`, { timeout: 60000 }, async () => {
      const before = udpSockets();
      const engine = new EmbeddedEngine({ listenIp: '127.0.0.1', portRange: [44000, 44999], iceServers: [] });
      await engine.createRoom('r');
      let closing = false;
      // 'answered' only counts if it came before the close began; an answer after it is a leg that no longer exists.
      const outcome = (p: Promise<unknown>) =>
        p.then(() => (closing ? 'answered after the close' : 'answered'), (err: { code?: string }) => err.code ?? String(err));
      const publish = outcome(engine.publish('r', 'alice', offer));
      const whep = outcome(engine.subscribeWithOffer('r', 'bob', whepOffer));
      if (delayMs) await sleep(delayMs);
      closing = true;
      await engine.close();
      const results = [await publish, await whep];
      outcomes.push(...results);
      for (const result of results) assert.ok(result === 'invalid_state' || result === 'answered', `outcome: ${result}`);
      const left = await waitFor('the legs\' UDP sockets to close', 15000, udpSockets, { until: (n) => n <= before, throwOnTimeout: false });
      assert.equal(left, before, `UDP sockets open: ${before} before, ${left} after the close`);
    });
  }

  it('the delays above did cut negotiations short (else this file tests nothing)', () => {
    assert.ok(outcomes.includes('invalid_state'), `outcomes: ${outcomes.join(', ')}`);
  });
});
