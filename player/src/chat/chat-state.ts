import { EventEmitter } from '../core/event-emitter.ts';
import type { ServerMessage, ServerMessageOf } from '../signaling/signaling-types.ts';
import type { ChatMessageInfo } from './chat-types.ts';

type ChatStateEvents = { change: [] };

/** Server messages the chat state follows. */
export const CHAT_EVENTS = ['chatMessage', 'chatDeleted', 'chatMuted', 'chatUnmuted'] as const satisfies readonly ServerMessage['type'][];

/**
 * A room's chat as one participant sees it, kept from `joined.chat` and the events that follow:
 * the messages (oldest first, at most `limit`), whether this identity is muted, and, for
 * moderators, every muted identity. `apply(message)` takes any server message and ignores the
 * ones it does not care about; `change` fires after each one that changed something.
 */
export class ChatState extends EventEmitter<ChatStateEvents> {
  readonly identity: string;
  readonly selfId: string;
  /** The current role when joined; moderators get moderation controls. */
  readonly moderator: boolean;
  private readonly limit: number;
  private items: ChatMessageInfo[];
  private readonly mutedSet: Set<string>;
  private selfMuted: boolean;

  constructor(joined: ServerMessageOf<'joined'>, limit = 200) {
    super();
    this.identity = joined.identity;
    this.selfId = joined.participantId;
    this.moderator = joined.role === 'moderator';
    this.limit = limit;
    this.items = [...(joined.chat?.messages ?? [])].slice(-limit);
    this.mutedSet = new Set(joined.chat?.mutedIdentities ?? []);
    this.selfMuted = joined.chat?.muted ?? false;
    if (this.selfMuted) this.mutedSet.add(this.identity);
  }

  /** Oldest first. */
  get messages(): readonly ChatMessageInfo[] {
    return this.items;
  }

  /** A moderator muted this participant's identity. */
  get muted(): boolean {
    return this.selfMuted;
  }

  /** Muted identities this participant knows of (moderators: all of them; others: heard since joining). */
  isMuted(identity: string): boolean {
    return this.mutedSet.has(identity);
  }

  apply(message: ServerMessage): void {
    switch (message.type) {
      case 'chatMessage': {
        const { id, from, text, at } = message;
        this.items.push({ id, from, text, at });
        if (this.items.length > this.limit) this.items.splice(0, this.items.length - this.limit);
        break;
      }
      case 'chatDeleted': {
        const before = this.items.length;
        this.items = this.items.filter((m) => m.id !== message.id);
        if (this.items.length === before) return;
        break;
      }
      case 'chatMuted':
      case 'chatUnmuted': {
        const muted = message.type === 'chatMuted';
        if (muted) this.mutedSet.add(message.identity);
        else this.mutedSet.delete(message.identity);
        if (message.identity === this.identity) this.selfMuted = muted;
        break;
      }
      default:
        return;
    }
    this.emit('change');
  }
}
