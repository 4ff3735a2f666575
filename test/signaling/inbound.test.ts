import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InboundGate, type Inbound } from '../../services/signaling/inbound.ts';
import { PROTOCOL_VERSION } from '../../services/signaling/protocol.ts';

/**
 * The gate every signaling frame passes before a session acts on it. The same limits are
 * exercised over real sockets in test/e2e/bad-input.test.ts; here each rule on its own, with
 * the code and message a client gets.
 */
const frame = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
const gate = (limits: Partial<{ maxMessageBytes: number; ratePerSecond: number }> = {}) =>
  new InboundGate({ maxMessageBytes: limits.maxMessageBytes ?? 1024, ratePerSecond: limits.ratePerSecond ?? 100 });

function rejection(result: Inbound): { code: string; message: string; re?: string } {
  assert.equal(result.kind, 'rejected', `expected a rejection, got ${JSON.stringify(result)}`);
  if (result.kind !== 'rejected') throw new Error('unreachable');
  return { code: result.error.code, message: result.error.message, ...(result.re ? { re: result.re } : {}) };
}

describe('signaling inbound gate', () => {
  it('passes a valid message through, parsed', () => {
    const result = gate().read(frame({ v: PROTOCOL_VERSION, type: 'ping', id: 'r1' }), false, 0);
    assert.equal(result.kind, 'message');
    assert.equal(result.kind === 'message' && result.message.type, 'ping');
  });

  it('closes on a frame over the size limit, before parsing it', () => {
    const result = gate({ maxMessageBytes: 64 }).read(frame({ v: PROTOCOL_VERSION, type: 'chat', text: 'x'.repeat(100) }), false, 0);
    assert.equal(result.kind, 'fatal');
    assert.equal(result.kind === 'fatal' && result.closeCode, 'messageTooBig');
    assert.equal(result.kind === 'fatal' && result.error.code, 'payload_too_large');
  });

  it('rejects binary frames, bad JSON and a missing envelope, and carries on', () => {
    const g = gate();
    assert.equal(rejection(g.read(frame('{}'), true, 0)).code, 'invalid_message');
    assert.deepEqual(rejection(g.read(frame('{"v":'), false, 0)), { code: 'invalid_message', message: 'message is not valid JSON' });
    assert.equal(rejection(g.read(frame([1, 2]), false, 0)).code, 'invalid_message');
    assert.equal(g.read(frame({ v: PROTOCOL_VERSION, type: 'ping' }), false, 0).kind, 'message');
  });

  it('names the protocol version it expects, and answers with the request id', () => {
    const r = rejection(gate().read(frame({ v: PROTOCOL_VERSION + 1, type: 'ping', id: 'abc' }), false, 0));
    assert.equal(r.code, 'invalid_message');
    assert.match(r.message, new RegExp(`expected v: ${PROTOCOL_VERSION}`));
    assert.equal(r.re, 'abc');
  });

  it('unknown_type for a type the protocol lacks, own-property names included', () => {
    for (const type of ['teleport', '__proto__', 'constructor', 'toString']) {
      const r = rejection(gate().read(frame({ v: PROTOCOL_VERSION, type, id: 'q' }), false, 0));
      assert.equal(r.code, 'unknown_type', type);
      assert.equal(r.re, 'q');
    }
  });

  it("a known type with a bad field names the field; an unknown field is refused (strict schemas)", () => {
    const bad = rejection(gate().read(frame({ v: PROTOCOL_VERSION, type: 'promote', participantId: 42 }), false, 0));
    assert.equal(bad.code, 'invalid_message');
    assert.match(bad.message, /participantId/);
    const extra = rejection(gate().read(frame({ v: PROTOCOL_VERSION, type: 'ping', admin: true }), false, 0));
    assert.equal(extra.code, 'invalid_message');
  });

  it('drops messages past the rate with rate_limited, then cuts off a client that keeps on', () => {
    const g = gate({ ratePerSecond: 3 });
    const ping = frame({ v: PROTOCOL_VERSION, type: 'ping' });
    const now = Date.now();
    const kinds = Array.from({ length: 10 }, () => g.read(ping, false, now).kind);
    // A burst of two seconds' worth (6) passes; then each message in the same instant is
    // dropped as a strike, and more strikes than the rate within the window close the socket.
    assert.deepEqual(kinds, ['message', 'message', 'message', 'message', 'message', 'message', 'rejected', 'rejected', 'rejected', 'fatal']);
    const later = gate({ ratePerSecond: 3 });
    for (let i = 0; i < 7; i++) later.read(ping, false, now);
    assert.equal(later.read(ping, false, now + 1000).kind, 'message', 'the bucket refills with time');
  });
});
