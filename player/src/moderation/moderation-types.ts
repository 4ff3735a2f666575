/**
 * Protocol revision 2 (roles and moderation) for the player's SignalingClient. The message
 * shapes themselves come from services/signaling/protocol.ts (type-only); this adds the reply
 * type of each new request to the client's `ReplyTypes`, so `client.request({ type: 'promote',
 * … })` is typed and resolves with `ok`.
 */
import type { ServerMessageOf } from '../signaling/signaling-types.ts';

export type { BlockInfo, HandInfo, HandLowerReason, MediaKind } from '../../../services/signaling/protocol.ts';

declare module '../signaling/signaling-types.ts' {
  interface ReplyTypes {
    raiseHand: 'ok';
    lowerHand: 'ok';
    promote: 'ok';
    demote: 'ok';
    mute: 'ok';
    unmute: 'ok';
    kick: 'ok';
    unblock: 'ok';
    endBroadcast: 'ok';
  }
}

/** The protocol revision that brought these messages (`joined.revision`). */
export const MODERATION_REVISION = 2;

export type JoinedMessage = ServerMessageOf<'joined'>;
