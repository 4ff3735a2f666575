import { randomBytes } from 'node:crypto';
import { CONFIG_DEFAULTS } from '../core/config.ts';
import { ServiceError } from '../core/errors.ts';
import { TokenBucket } from '../core/TokenBucket.ts';
import type { ActorId, ChatAuthor, ChatMessage, RoomEvents, StageRole } from './StageTypes.ts';

/** The author of messages sent through the HTTP API (`POST /api/rooms/:id/chat`). */
export const SYSTEM_AUTHOR: ChatAuthor = Object.freeze({ participantId: 'system', identity: 'system', role: 'system' });

/** Buckets are pruned (the full ones forgotten) once this many identities have one. */
const PRUNE_BUCKETS_AT = 256;

export interface ChatOptions {
  /** Longest message, characters (after trimming). Config CHAT_MAX_LENGTH; default 500. */
  maxLength?: number;
  /** Messages kept, the newest. Config CHAT_HISTORY; default 50. */
  historySize?: number;
  /** Messages per minute per identity (token bucket). Config CHAT_RATE_PER_MINUTE; default 30. */
  ratePerMinute?: number;
  /** Messages an identity may send at once. Config CHAT_RATE_BURST; default 5. */
  burst?: number;
}

/** What the chat reads from its room: who a participant is now, and whether an actor moderates. */
export interface ChatMembers {
  /** The participant as the room knows it now; throws `not_found` when it is not in the room. */
  author(participantId: string): ChatAuthor & { role: StageRole };
  /** Throws `forbidden` unless `actor` is the API (undefined) or a moderator now. */
  assertMayModerate(actor: ActorId): void;
}

type ChatEventName = 'chatmessage' | 'chatdeleted' | 'chatmutechanged';
export type ChatAnnounce = <K extends ChatEventName>(event: K, ...args: RoomEvents[K]) => void;

/**
 * A room's chat: a bounded history of messages, a per-identity send rate, and the identities a
 * moderator muted. Every participant may chat, viewers included. Mutes belong to the identity,
 * so a reconnect does not lift them; they last as long as the room. In a cluster the history
 * and the mutes follow the room to its next node (`restore`).
 *
 * It checks and records; its room announces what happened (`chatmessage`, `chatdeleted`,
 * `chatmutechanged`), and the signaling layer and webhooks word it for their audiences.
 * Refusals are typed errors with stable codes: `bad_request` (empty), `chat_too_long`,
 * `chat_muted`, `rate_limited`, `forbidden` (deleting someone else's message without
 * moderating), `not_found` (no such message).
 */
export class Chat {
  readonly maxLength: number;
  readonly historySize: number;
  private readonly ratePerMinute: number;
  private readonly burst: number;
  private readonly members: ChatMembers;
  private readonly announce: ChatAnnounce;
  /** Oldest first; at most `historySize`. */
  private readonly messages: ChatMessage[] = [];
  private readonly muted = new Set<string>();
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(members: ChatMembers, announce: ChatAnnounce, opts: ChatOptions = {}) {
    this.members = members;
    this.announce = announce;
    this.maxLength = opts.maxLength ?? CONFIG_DEFAULTS.CHAT_MAX_LENGTH;
    this.historySize = opts.historySize ?? CONFIG_DEFAULTS.CHAT_HISTORY;
    this.ratePerMinute = opts.ratePerMinute ?? CONFIG_DEFAULTS.CHAT_RATE_PER_MINUTE;
    this.burst = opts.burst ?? CONFIG_DEFAULTS.CHAT_RATE_BURST;
  }

  /** The kept messages, oldest first. */
  history(): ChatMessage[] {
    return this.messages.map(copy);
  }

  /** Identities whose chat a moderator muted, sorted. */
  mutedIdentities(): string[] {
    return [...this.muted].sort();
  }

  isMuted(identity: string): boolean {
    return this.muted.has(identity);
  }

  /**
   * Takes over the history and mutes the room had on the node it came from (cluster failover),
   * before anyone joins here. Nothing is announced: none of it is new. `messages` are oldest
   * first; the newest `historySize` are kept, each id once.
   */
  restore(messages: ChatMessage[], mutedIdentities: string[]): void {
    const known = new Set(this.messages.map((m) => m.id));
    for (const message of messages) {
      if (known.has(message.id)) continue;
      known.add(message.id);
      this.messages.push(copy(message));
    }
    if (this.messages.length > this.historySize) this.messages.splice(0, this.messages.length - this.historySize);
    for (const identity of mutedIdentities) this.muted.add(identity);
  }

  /** A participant (any role) sends `text`. Checked in this order: text, mute, rate. */
  send(participantId: string, text: string, now = Date.now()): ChatMessage {
    const author = this.members.author(participantId);
    const clean = this.checkText(text);
    if (this.muted.has(author.identity)) throw new ServiceError('chat_muted', 'a moderator muted your chat in this room');
    if (!this.bucketOf(author.identity, now).take(now)) {
      throw new ServiceError('rate_limited', `more than ${this.ratePerMinute} chat messages per minute; message dropped`);
    }
    return this.record({ participantId: author.participantId, identity: author.identity, role: author.role }, clean, now);
  }

  /** The HTTP API sends `text` as SYSTEM_AUTHOR: no mute, no rate limit (its key is trusted). */
  sendAsSystem(text: string, now = Date.now()): ChatMessage {
    return this.record(SYSTEM_AUTHOR, this.checkText(text), now);
  }

  /**
   * Removes a message from the history and tells everyone. Its author (same identity) or a
   * moderator (`actor` undefined: the API) may; anyone else gets `forbidden`.
   */
  delete(messageId: string, actor: ActorId): ChatMessage {
    const index = this.messages.findIndex((m) => m.id === messageId);
    if (actor !== undefined) {
      const self = this.members.author(actor);
      const own = index >= 0 && this.messages[index]!.from.identity === self.identity && this.messages[index]!.from.role !== 'system';
      if (!own) this.members.assertMayModerate(actor);
    }
    if (index < 0) throw new ServiceError('not_found', 'no such chat message (deleted, or no longer in the history)');
    const [removed] = this.messages.splice(index, 1);
    this.announce('chatdeleted', removed!.id, actor);
    return copy(removed!);
  }

  /** Moderator: mutes or unmutes an identity's chat (idempotent; announced only on a change). */
  setMuted(identity: string, muted: boolean, actor: ActorId): void {
    this.members.assertMayModerate(actor);
    if (this.muted.has(identity) === muted) return;
    if (muted) this.muted.add(identity);
    else this.muted.delete(identity);
    this.announce('chatmutechanged', identity, muted, actor);
  }

  private checkText(text: string): string {
    const clean = text.trim();
    if (clean.length === 0) throw new ServiceError('bad_request', 'chat text is empty');
    // Characters as the client counts them (code points), not UTF-16 units.
    const length = [...clean].length;
    if (length > this.maxLength) throw new ServiceError('chat_too_long', `chat text is ${length} characters; at most ${this.maxLength}`);
    return clean;
  }

  private record(from: ChatAuthor, text: string, now: number): ChatMessage {
    const message: ChatMessage = { id: `m_${randomBytes(9).toString('base64url')}`, from: { ...from }, text, at: new Date(now).toISOString() };
    if (this.historySize > 0) {
      this.messages.push(message);
      if (this.messages.length > this.historySize) this.messages.splice(0, this.messages.length - this.historySize);
    }
    this.announce('chatmessage', copy(message));
    return copy(message);
  }

  private bucketOf(identity: string, now: number): TokenBucket {
    let bucket = this.buckets.get(identity);
    if (!bucket) {
      if (this.buckets.size >= PRUNE_BUCKETS_AT) {
        for (const [id, b] of this.buckets) if (b.isFull(now)) this.buckets.delete(id);
      }
      bucket = new TokenBucket(this.ratePerMinute / 60, this.burst, now);
      this.buckets.set(identity, bucket);
    }
    return bucket;
  }
}

function copy(m: ChatMessage): ChatMessage {
  return { ...m, from: { ...m.from } };
}
