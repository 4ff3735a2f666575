import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChatState } from '../../player/src/chat/chat-state.ts';
import type { ServerMessage, ServerMessageOf } from '../../player/src/signaling/signaling-types.ts';

/** The player's chat state (no browser): history from `joined`, then the chat events. */
describe('player: chat state', () => {
  const joined = (over: Partial<ServerMessageOf<'joined'>> = {}): ServerMessageOf<'joined'> => ({
    v: 1, type: 'joined', participantId: 'p_me', identity: 'me', role: 'viewer', roomId: 'r', participants: [], tracks: [], iceServers: [], heartbeatMs: 15000,
    chat: { messages: [{ id: 'm_1', from: { participantId: 'p_a', identity: 'a', role: 'presenter' }, text: 'old', at: '2026-01-01T00:00:00.000Z' }], muted: false },
    ...over,
  });
  const msg = (id: string, text: string, identity = 'a'): ServerMessage => ({ v: 1, type: 'chatMessage', id, from: { participantId: `p_${identity}`, identity, role: 'viewer' }, text, at: '2026-01-01T00:00:01.000Z' });

  it('starts from the history, appends, deletes, and keeps at most its limit', () => {
    const state = new ChatState(joined(), 3);
    let changes = 0;
    state.on('change', () => changes++);
    state.apply(msg('m_2', 'two'));
    state.apply(msg('m_3', 'three'));
    state.apply(msg('m_4', 'four'));
    assert.deepEqual(state.messages.map((m) => m.text), ['two', 'three', 'four']);
    state.apply({ v: 1, type: 'chatDeleted', id: 'm_3' });
    state.apply({ v: 1, type: 'chatDeleted', id: 'm_unknown' });
    state.apply({ v: 1, type: 'pong' });
    assert.deepEqual(state.messages.map((m) => m.id), ['m_2', 'm_4']);
    assert.equal(changes, 4, 'no change for an unknown id or another message type');
    assert.equal(state.moderator, false);
  });

  it('follows its own mute and, for moderators, everyone’s', () => {
    const viewer = new ChatState(joined({ chat: { messages: [], muted: true } }));
    assert.equal(viewer.muted, true);
    viewer.apply({ v: 1, type: 'chatUnmuted', identity: 'me' });
    assert.equal(viewer.muted, false);
    viewer.apply({ v: 1, type: 'chatMuted', identity: 'someone', by: 'p_mod' });
    assert.equal(viewer.muted, false);
    const mod = new ChatState(joined({ role: 'moderator', chat: { messages: [], muted: false, mutedIdentities: ['x'] } }));
    assert.equal(mod.moderator, true);
    assert.equal(mod.isMuted('x'), true);
    mod.apply({ v: 1, type: 'chatUnmuted', identity: 'x' });
    assert.equal(mod.isMuted('x'), false);
  });
});
