import type { ActorId, AudienceCounts, ChatMessage } from '../stage/StageTypes.ts';
import type { Outgoing } from './outgoing.ts';
import type { AudienceInfo, ChatMessageInfo } from './protocol.ts';

/** Chat and audience (revision 5) on the wire: stage objects → their wire shapes. */

export function toChatMessageInfo(m: ChatMessage): ChatMessageInfo {
  return { id: m.id, from: { participantId: m.from.participantId, identity: m.from.identity, role: m.from.role }, text: m.text, at: m.at };
}

export function toAudienceInfo(c: AudienceCounts): AudienceInfo {
  return { presenter: c.presenter, guest: c.guest, moderator: c.moderator, viewer: c.viewer, total: c.total };
}

const byOf = (actor: ActorId): { by?: string } => (actor ? { by: actor } : {});

/** The room's chat and audience events as messages; everyone in the room gets each. */
export function chatEventMessages(send: (msg: Outgoing) => void) {
  return {
    chatmessage: (m: ChatMessage) => send({ type: 'chatMessage', ...toChatMessageInfo(m) }),
    chatdeleted: (messageId: string, by: ActorId) => send({ type: 'chatDeleted', id: messageId, ...byOf(by) }),
    chatmutechanged: (identity: string, muted: boolean, by: ActorId) => send({ type: muted ? 'chatMuted' : 'chatUnmuted', identity, ...byOf(by) }),
    audiencechanged: (counts: AudienceCounts) => send({ type: 'audience', audience: toAudienceInfo(counts) }),
  };
}
