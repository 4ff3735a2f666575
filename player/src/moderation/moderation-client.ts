import type { SignalingClient } from '../signaling/signaling-client.ts';
import type { MediaKind } from './moderation-types.ts';
import './moderation-types.ts';

/**
 * Moderation requests over an already joined SignalingClient. Each resolves once the server
 * answered `ok`, and rejects with the server's error (a PlayerErrorException carrying `code`,
 * e.g. `forbidden` when the current role may not). The server checks every one against the
 * sender's current role; nothing here is trusted.
 */
export class ModerationClient {
  private readonly client: SignalingClient;

  constructor(client: SignalingClient) {
    this.client = client;
  }

  raiseHand(): Promise<void> {
    return this.ok(this.client.request({ type: 'raiseHand' }));
  }

  /** Your own hand without `participantId`; anyone's (moderators) with it. */
  lowerHand(participantId?: string): Promise<void> {
    return this.ok(this.client.request({ type: 'lowerHand', ...(participantId ? { participantId } : {}) }));
  }

  promote(participantId: string): Promise<void> {
    return this.ok(this.client.request({ type: 'promote', participantId }));
  }

  demote(participantId: string): Promise<void> {
    return this.ok(this.client.request({ type: 'demote', participantId }));
  }

  /** Both kinds when `kind` is omitted. */
  mute(participantId: string, kind?: MediaKind): Promise<void> {
    return this.ok(this.client.request({ type: 'mute', participantId, ...(kind ? { kind } : {}) }));
  }

  unmute(participantId: string, kind?: MediaKind): Promise<void> {
    return this.ok(this.client.request({ type: 'unmute', participantId, ...(kind ? { kind } : {}) }));
  }

  kick(participantId: string, reason?: string): Promise<void> {
    return this.ok(this.client.request({ type: 'kick', participantId, ...(reason ? { reason } : {}) }));
  }

  unblock(identity: string): Promise<void> {
    return this.ok(this.client.request({ type: 'unblock', identity }));
  }

  endBroadcast(): Promise<void> {
    return this.ok(this.client.request({ type: 'endBroadcast' }));
  }

  private async ok(reply: Promise<unknown>): Promise<void> {
    await reply;
  }
}
