import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidSdpError, MAX_SDP_ERROR_MESSAGE, toErrorBody } from '../../services/core/errors.ts';

describe('errors', () => {
  it('cuts an invalid_sdp message that would echo much of the client SDP', () => {
    const long = new InvalidSdpError(`offer has nothing to publish (${'x: direction recvonly sends nothing; '.repeat(40)})`);
    assert.equal(long.message.length, MAX_SDP_ERROR_MESSAGE);
    assert.ok(long.message.endsWith('…'));
    assert.deepEqual(toErrorBody(long), { status: 400, body: { error: { code: 'invalid_sdp', message: long.message } } });
    assert.equal(new InvalidSdpError('SDP is empty').message, 'SDP is empty');
  });
});
