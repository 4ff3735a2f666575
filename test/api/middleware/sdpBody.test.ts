import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertSdpShape, sdpBody } from '../../../services/api/middleware/sdpBody/index.ts';
import { errorOf, testApp } from './harness.ts';

const OFFER = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n';
const app = testApp().post('/x', sdpBody(), (c) => c.text(String(c.get('sdp').length)));
const post = (body: string, type = 'application/sdp') => app.request('/x', { method: 'POST', body, headers: { 'content-type': type } });

describe('sdpBody middleware', () => {
  it('accepts a plausible offer', async () => {
    const res = await post(OFFER);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), String(OFFER.length));
  });

  it('rejects empty, non-SDP and media-less bodies with 400 invalid_sdp', async () => {
    for (const body of ['', '   ', 'hello', 'v=1\r\nm=audio 9 RTP/AVP 0\r\n', 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n']) {
      const err = await errorOf(await post(body));
      assert.equal(err.status, 400, body);
      assert.equal(err.code, 'invalid_sdp', body);
    }
  });

  it('requires Content-Type: application/sdp (415)', async () => {
    const res = await post(OFFER, 'application/json');
    assert.equal(res.status, 415);
  });

  it('assertSdpShape accepts LF-only line endings', () => {
    assert.doesNotThrow(() => assertSdpShape(OFFER.replaceAll('\r\n', '\n')));
  });
});
