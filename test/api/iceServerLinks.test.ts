import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iceServerLinks } from '../../services/api/routes/ingest.ts';
import { createTurnService } from '../../services/turn/index.ts';

test('WHIP/WHEP Link headers carry every ICE server URL with its TURN credential (RFC 9725 §4.6)', () => {
  const turn = createTurnService({ TURN_URLS: 'stun:127.0.0.1:3478,turn:127.0.0.1:3478?transport=udp', TURN_SECRET: 's'.repeat(32), TURN_TTL_SECONDS: 600 });
  const links = iceServerLinks(turn.iceServers('alice'));
  assert.ok(links.length >= 2, JSON.stringify(links));
  const turnLink = links.find((l) => l.startsWith('<turn:'));
  assert.match(turnLink ?? '', /^<turn:127\.0\.0\.1:3478\?transport=udp>; rel="ice-server"; username="\d+:alice"; credential="[A-Za-z0-9+/=]+"; credential-type="password"$/);
  assert.ok(links.some((l) => l === '<stun:127.0.0.1:3478>; rel="ice-server"'), JSON.stringify(links));
  assert.deepEqual(iceServerLinks([]), []);
  assert.deepEqual(iceServerLinks([{ urls: 'turn:x', username: 'a"b', credential: 'c' }]), ['<turn:x>; rel="ice-server"; username="a\\"b"; credential="c"; credential-type="password"']);
});
