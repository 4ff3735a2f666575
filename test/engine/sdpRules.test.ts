/**
 * The strict SDP rules (services/engine/sdpRules.ts): every fixture offer in test/fixtures/sdp
 * passes, and a Chromium offer mutated to break exactly one rule fails with that rule's message.
 *
 * Run: node scripts/test.mjs test/engine/sdpRules.test.ts
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { InvalidSdpError } from '../../services/core/errors.ts';
import { assertSdpRules } from '../../services/engine/sdpRules.ts';

const FIXTURES = new URL('../fixtures/sdp/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');
const CHROME = fixture('chrome-publish-single.sdp');
const FIREFOX = fixture('firefox-publish-single.sdp');
const LIMIT = { maxMediaSections: 16 };

/** Replaces every line matching `pattern` (whole line) with `replacement` ('' drops it). */
function replaceLines(sdp: string, pattern: RegExp, replacement: (line: string) => string): string {
  const out = sdp.split('\r\n').flatMap((line) => {
    if (!pattern.test(line)) return [line];
    const next = replacement(line);
    return next === '' ? [] : [next];
  });
  assert.notEqual(out.join('\r\n'), sdp, `mutation ${pattern} changed nothing`);
  return out.join('\r\n');
}

function rejects(sdp: string, message: string | RegExp, opts = LIMIT): void {
  assert.throws(() => assertSdpRules(sdp, opts), (err: unknown) => {
    assert.ok(err instanceof InvalidSdpError, `expected InvalidSdpError, got ${String(err)}`);
    assert.equal(err.code, 'invalid_sdp');
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    assert.ok(err.message.length < 200, `message too long: ${err.message.length}`);
    return true;
  });
}

const setFingerprint = (sdp: string, value: string) => replaceLines(sdp, /^a=fingerprint:/, () => `a=fingerprint:${value}`);
const setIce = (sdp: string, name: 'ice-ufrag' | 'ice-pwd', value: string) => replaceLines(sdp, new RegExp(`^a=${name}:`), () => `a=${name}:${value}`);

describe('SDP rules', () => {
  it('accepts every fixture offer unchanged, and with LF line ends', () => {
    const names = readdirSync(FIXTURES).filter((n) => n.endsWith('.sdp'));
    assert.ok(names.some((n) => n.startsWith('firefox-')) && names.some((n) => n.startsWith('chrome-')));
    for (const name of names) {
      assert.doesNotThrow(() => assertSdpRules(fixture(name), LIMIT), name);
      assert.doesNotThrow(() => assertSdpRules(fixture(name).replaceAll('\r\n', '\n'), LIMIT), `${name} (LF)`);
    }
  });

  describe('a=fingerprint', () => {
    it('refuses a value that is not hex pairs', () => {
      rejects(setFingerprint(CHROME, `sha-256 ${Array(32).fill('ZZ').join(':')}`), 'a=fingerprint: sha-256 value must be colon-separated hex pairs ("Z" (U+005A) at position 1)');
    });
    it('refuses a value of the wrong length for its hash', () => {
      rejects(setFingerprint(CHROME, 'sha-256 AB:CD:EF'), 'a=fingerprint: sha-256 needs 32 bytes, got 3');
      rejects(setFingerprint(CHROME, `sha-1 ${Array(32).fill('ab').join(':')}`), 'a=fingerprint: sha-1 needs 20 bytes, got 32');
    });
    it('refuses an unknown hash function, and md5', () => {
      rejects(setFingerprint(CHROME, `md9 ${Array(16).fill('AB').join(':')}`), /^a=fingerprint: "md9" is not a known hash function; use one of sha-1, sha-224, sha-256, sha-384, sha-512$/);
      rejects(setFingerprint(CHROME, `md5 ${Array(16).fill('AB').join(':')}`), /^a=fingerprint: "md5" is not accepted/);
    });
    it('refuses an empty hash name or value', () => {
      rejects(setFingerprint(CHROME, ` ${Array(32).fill('AB').join(':')}`), /^a=fingerprint: expected "<hash function> <hex pairs>"/);
      rejects(setFingerprint(CHROME, 'sha-256 '), /^a=fingerprint: expected/);
      rejects(setFingerprint(CHROME, ''), /^a=fingerprint: expected/);
    });
    it('checks session-level fingerprints (Firefox) as well as media-level ones', () => {
      rejects(setFingerprint(FIREFOX, 'sha-256 AB:CD:EF'), 'a=fingerprint: sha-256 needs 32 bytes, got 3');
      // Only the video section's fingerprint broken: media level counts too.
      let seen = 0;
      const oneBroken = replaceLines(CHROME, /^a=fingerprint:/, (line) => (++seen === 2 ? 'a=fingerprint:sha-256 AB' : line));
      rejects(oneBroken, 'a=fingerprint: sha-256 needs 32 bytes, got 1');
    });
    it('accepts lowercase hex, an uppercase hash name and other sha lengths', () => {
      assert.doesNotThrow(() => assertSdpRules(setFingerprint(CHROME, `SHA-256 ${Array(32).fill('ab').join(':')}`), LIMIT));
      assert.doesNotThrow(() => assertSdpRules(setFingerprint(CHROME, `sha-512 ${Array(64).fill('0F').join(':')}`), LIMIT));
    });
  });

  describe('a=ice-ufrag and a=ice-pwd', () => {
    it('refuse bytes outside ice-char', () => {
      rejects(setIce(CHROME, 'ice-ufrag', 'ab\u0080cd'), 'a=ice-ufrag: U+0080 at position 3 is not an ice-char (ALPHA / DIGIT / "+" / "/")');
      rejects(setIce(CHROME, 'ice-ufrag', 'abc\u00ff'), /^a=ice-ufrag: U\+00FF at position 4 /);
      rejects(setIce(CHROME, 'ice-pwd', `${'p'.repeat(22)}=`), /^a=ice-pwd: "=" \(U\+003D\) at position 23 is not an ice-char/);
    });
    it('refuse a space', () => {
      rejects(setIce(CHROME, 'ice-ufrag', 'ab cd'), /^a=ice-ufrag: U\+0020 at position 3 is not an ice-char/);
    });
    it('refuse a length outside 4–256 (ufrag) and 22–256 (pwd)', () => {
      rejects(setIce(CHROME, 'ice-ufrag', 'u'.repeat(300)), 'a=ice-ufrag: must be 4–256 ice-chars, got 300');
      rejects(setIce(CHROME, 'ice-ufrag', 'abc'), 'a=ice-ufrag: must be 4–256 ice-chars, got 3');
      rejects(setIce(CHROME, 'ice-ufrag', ''), 'a=ice-ufrag: must be 4–256 ice-chars, got 0');
      rejects(setIce(CHROME, 'ice-pwd', 'p'.repeat(21)), 'a=ice-pwd: must be 22–256 ice-chars, got 21');
      rejects(setIce(CHROME, 'ice-pwd', 'p'.repeat(257)), 'a=ice-pwd: must be 22–256 ice-chars, got 257');
      assert.doesNotThrow(() => assertSdpRules(setIce(setIce(CHROME, 'ice-ufrag', 'u+/'.repeat(85) + 'u'), 'ice-pwd', 'p'.repeat(256)), LIMIT));
    });
  });

  describe('a=mid and a=group:BUNDLE', () => {
    it('refuse two m-sections with the same mid', () => {
      rejects(replaceLines(CHROME, /^a=mid:1$/, () => 'a=mid:0'), 'a=mid: "0" is used by m-sections 1 and 2');
    });
    it('refuse a BUNDLE offer with an m-section without a mid', () => {
      const noMid = replaceLines(replaceLines(CHROME, /^a=mid:1$/, () => ''), /^a=group:BUNDLE/, () => 'a=group:BUNDLE 0');
      rejects(noMid, 'a=mid: m-section 2 has none; a BUNDLE offer needs one in every m-section');
    });
    it('without BUNDLE, refuse a live m-section without a mid but allow a rejected (port 0) one', () => {
      const noBundle = replaceLines(CHROME, /^a=group:BUNDLE/, () => '');
      const noMid = replaceLines(noBundle, /^a=mid:1$/, () => '');
      rejects(noMid, 'a=mid: m-section 2 has none; every m-section with a port needs one');
      assert.doesNotThrow(() => assertSdpRules(replaceLines(noMid, /^m=video /, (l) => l.replace(/^m=video \d+/, 'm=video 0')), LIMIT));
    });
    it('refuse a BUNDLE group naming an unknown mid, or a mid twice', () => {
      rejects(replaceLines(CHROME, /^a=group:BUNDLE/, () => 'a=group:BUNDLE 0 1 7'), 'a=group:BUNDLE: names mid "7", which no m-section has');
      rejects(replaceLines(CHROME, /^a=group:BUNDLE/, () => 'a=group:BUNDLE 0 1 0'), 'a=group:BUNDLE: mid "0" is named more than once');
    });
    it('refuse an empty mid and two mids in one m-section', () => {
      rejects(replaceLines(CHROME, /^a=mid:1$/, () => 'a=mid:'), 'a=mid: m-section 2 has an empty mid');
      rejects(replaceLines(CHROME, /^a=mid:1$/, () => 'a=mid:1\r\na=mid:2'), 'a=mid: m-section 2 has more than one a=mid');
    });
    it('quote at most 24 characters of a long mid', () => {
      const long = 'x'.repeat(5000);
      rejects(replaceLines(CHROME, /^a=mid:[01]$/, () => `a=mid:${long}`), `a=mid: "${'x'.repeat(24)}…" is used by m-sections 1 and 2`);
    });
  });

  describe('m-section count', () => {
    /** The offer with small video sections (each with a new mid) added until it has `count` sections. */
    function withSections(count: number): string {
      const extra = Array.from({ length: count - 2 }, (_, i) =>
        `m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:${i + 2}\r\na=sendonly\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n`);
      const mids = Array.from({ length: count }, (_, i) => i).join(' ');
      return CHROME.replace(/^a=group:BUNDLE .*$/m, `a=group:BUNDLE ${mids}`) + extra.join('');
    }
    it('allows the configured number and refuses one more', () => {
      assert.doesNotThrow(() => assertSdpRules(withSections(16), LIMIT));
      rejects(withSections(17), 'SDP has 17 m-sections; at most 16 are accepted');
      rejects(withSections(3), 'SDP has 3 m-sections; at most 2 are accepted', { maxMediaSections: 2 });
    });
    it('has no limit without one (answers)', () => {
      assert.doesNotThrow(() => assertSdpRules(withSections(40), {}));
    });
  });
});
