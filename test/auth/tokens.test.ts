import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { bearerToken, TokenService } from '../../services/auth/tokens.ts';
import { ServiceError } from '../../services/core/errors.ts';

const SECRET = 'x'.repeat(40);
const tokens = new TokenService({ secret: SECRET, ttlSeconds: 60 });

function rejectsWith(code: string, message: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ServiceError, `expected ServiceError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  };
}

describe('TokenService', () => {
  it('issues a token whose claims verify', async () => {
    const issued = await tokens.issue('room1', 'alice', 'presenter');
    const claims = await tokens.verify(issued.token, 'room1');
    assert.equal(claims.identity, 'alice');
    assert.equal(claims.room, 'room1');
    assert.equal(claims.role, 'presenter');
    assert.equal(claims.exp - claims.iat, 60);
    assert.ok(claims.jti.length > 0);
    assert.equal(new Date(issued.expiresAt).getTime(), claims.exp * 1000);
  });

  it('gives every token its own jti', async () => {
    const a = await tokens.issue('r', 'a', 'viewer');
    const b = await tokens.issue('r', 'a', 'viewer');
    assert.notEqual(a.claims.jti, b.claims.jti);
  });

  it('rejects a missing token', async () => {
    await assert.rejects(tokens.verify(undefined), rejectsWith('unauthorized', /missing token/));
    await assert.rejects(tokens.verify(''), rejectsWith('unauthorized', /missing token/));
  });

  it('rejects an expired token', async () => {
    const old = await tokens.issue('r', 'a', 'viewer', Date.now() - 3600_000);
    await assert.rejects(tokens.verify(old.token), rejectsWith('unauthorized', /^token expired$/));
  });

  it('rejects a token signed with another secret', async () => {
    const other = new TokenService({ secret: 'y'.repeat(40), ttlSeconds: 60 });
    const forged = await other.issue('r', 'a', 'presenter');
    await assert.rejects(tokens.verify(forged.token), rejectsWith('unauthorized', /^token signature invalid$/));
  });

  it('rejects malformed tokens without echoing them', async () => {
    for (const bad of ['abc', 'a.b.c', 'eyJhbGciOiJIUzI1NiJ9.e30', 'x'.repeat(5000)]) {
      await assert.rejects(tokens.verify(bad), (err: unknown) => {
        assert.ok(err instanceof ServiceError);
        assert.equal(err.code, 'unauthorized');
        assert.equal(err.message, 'token malformed');
        return true;
      });
    }
  });

  it('rejects alg=none and other algorithms', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: 'a', room: 'r', role: 'moderator', iat: 1, exp: 9999999999, jti: 'j' })).toString('base64url');
    await assert.rejects(tokens.verify(`${header}.${body}.`), rejectsWith('unauthorized', /token/));
  });

  it('rejects a correctly signed token with bad claims', async () => {
    const key = new TextEncoder().encode(SECRET);
    const now = Math.floor(Date.now() / 1000);
    const bad = await new SignJWT({ room: 'r', role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' }).setSubject('a').setIssuedAt(now).setExpirationTime(now + 60).setJti('j').sign(key);
    await assert.rejects(tokens.verify(bad), rejectsWith('unauthorized', /^token claims invalid$/));
    const noExp = await new SignJWT({ room: 'r', role: 'viewer' })
      .setProtectedHeader({ alg: 'HS256' }).setSubject('a').setIssuedAt(now).setJti('j').sign(key);
    await assert.rejects(tokens.verify(noExp), rejectsWith('unauthorized', /^token claims invalid$/));
  });

  it('forbids a genuine token on another room', async () => {
    const issued = await tokens.issue('room1', 'alice', 'presenter');
    await assert.rejects(tokens.verify(issued.token, 'room2'), rejectsWith('forbidden', /another room/));
  });
});

describe('bearerToken', () => {
  it('extracts the token from an Authorization header', () => {
    assert.equal(bearerToken('Bearer abc.def'), 'abc.def');
    assert.equal(bearerToken('bearer   abc'), 'abc');
    assert.equal(bearerToken('Basic abc'), undefined);
    assert.equal(bearerToken('Bearer'), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });
});
