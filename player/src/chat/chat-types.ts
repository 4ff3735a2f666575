/**
 * Protocol revision 5 (chat and audience) for the player's SignalingClient. The message shapes
 * come from services/signaling/protocol.ts (type-only); this adds the reply type of each new
 * request to the client's `ReplyTypes`, so `client.request({ type: 'chat', text })` is typed
 * and resolves with `ok`.
 */
export type { AudienceInfo, ChatAuthorInfo, ChatMessageInfo } from '../../../services/signaling/protocol.ts';

declare module '../signaling/signaling-types.ts' {
  interface ReplyTypes {
    chat: 'ok';
    deleteChat: 'ok';
    muteChat: 'ok';
    unmuteChat: 'ok';
  }
}

/** The protocol revision that brought these messages (`joined.revision`). */
export const CHAT_REVISION = 5;
