import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { PlaybackTokenService } from '../../services/auth/playbackTokens.ts';
import { TokenService } from '../../services/auth/tokens.ts';
import { ServiceError } from '../../services/core/errors.ts';

const SECRET = 'playback-token-test-secret-0123456789';

async function rejects(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ServiceError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

describe('playback tokens', () => {
  const playback = new PlaybackTokenService({ secret: SECRET, ttlSeconds: 600 });
  const rooms = new TokenService({ secret: SECRET, ttlSeconds: 600 });

  it('admit their room until they expire', async () => {
    const issued = await playback.issue('r1');
    assert.equal(issued.claims.room, 'r1');
    assert.equal(issued.claims.exp - issued.claims.iat, 600);
    assert.equal(Date.parse(issued.expiresAt), issued.claims.exp * 1000);
    assert.equal((await playback.verify(issued.token, 'r1')).jti, issued.claims.jti);
    // Remembered after the first verification; the expiry still holds.
    assert.equal((await playback.verify(issued.token, 'r1')).room, 'r1');
    await rejects(playback.verify(issued.token, 'r1', (issued.claims.exp + 1) * 1000), 'unauthorized', /token expired/);
  });

  it('are refused for another room, missing, forged or of the wrong kind', async () => {
    const { token } = await playback.issue('r1');
    await rejects(playback.verify(token, 'r2'), 'forbidden', /another room/);
    await rejects(playback.verify(undefined, 'r1'), 'unauthorized', /required/);
    await rejects(playback.verify('', 'r1'), 'unauthorized', /required/);
    await rejects(playback.verify('x'.repeat(5000), 'r1'), 'unauthorized', /malformed/);
    const forged = await new PlaybackTokenService({ secret: 'y'.repeat(40), ttlSeconds: 60 }).issue('r1');
    await rejects(playback.verify(forged.token, 'r1'), 'unauthorized', /signature invalid/);
    // A room token is no playback token, and a playback token is no room token.
    const roomToken = (await rooms.issue('r1', 'alice', 'viewer')).token;
    await rejects(playback.verify(roomToken, 'r1'), 'unauthorized', /not a playback token/);
    await rejects(rooms.verify(token, 'r1'), 'unauthorized', /claims invalid/);
    const none = await new SignJWT({ use: 'playback', room: 'r1' })
      .setProtectedHeader({ alg: 'HS384' })
      .setIssuedAt()
      .setExpirationTime('1m')
      .setJti('j')
      .sign(new TextEncoder().encode(SECRET));
    await rejects(playback.verify(none, 'r1'), 'unauthorized', /algorithm not allowed/);
  });

  it('take a lifetime between 1 s and a day', async () => {
    const short = await playback.issue('r1', 1);
    assert.equal(short.claims.exp - short.claims.iat, 1);
    await assert.rejects(playback.issue('r1', 0), /ttlSeconds/);
    await assert.rejects(playback.issue('r1', 86401), /ttlSeconds/);
    await assert.rejects(playback.issue('r1', 1.5), /ttlSeconds/);
  });

  it('keep the cache of verified tokens bounded', async () => {
    const small = new PlaybackTokenService({ secret: SECRET, ttlSeconds: 60, cacheSize: 2 });
    for (let i = 0; i < 5; i++) await small.verify((await small.issue('r1')).token, 'r1');
    assert.ok((small as unknown as { verified: Map<string, unknown> }).verified.size <= 2);
  });
});
