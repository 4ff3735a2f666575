import type { RedisClientType } from 'redis';
import { logger } from '../core/logger.ts';
import type { ChatMessage, RoleGrant } from '../stage/StageTypes.ts';

const log = logger.child({ mod: 'cluster' });

/** A room's HLS numbering is kept this long after its last segment, ms. */
const HLS_NUMBERING_TTL_MS = 3600_000;

/** How far a room's HLS numbering got (the packager's HlsResumePoint). */
export interface HlsNumbering {
  nextMsn: number;
  discontinuitySequence: number;
}

/** A block, as the room keeps it (stage BlockEntry). */
export interface CarriedBlock {
  identity: string;
  blockedAt: string;
  by?: string;
  reason?: string;
}

/**
 * What a room takes to its next node: its private setting (when one was set), its blocks, its
 * promotions (each with its deadline if it was lapsing), its chat history (oldest first) and the
 * identities whose chat a moderator muted.
 */
export interface CarriedRoomState {
  private?: boolean;
  blocks: CarriedBlock[];
  grants: RoleGrant[];
  chat: ChatMessage[];
  chatMuted: string[];
}

/** Chat authors' roles (stage StageRole, or `system` for the HTTP API). */
const AUTHOR_ROLES = new Set(['presenter', 'moderator', 'viewer', 'guest', 'system']);

/**
 * Removes the one history entry whose JSON starts with ARGV[1] (`{"id":"<message id>",`: the
 * entries are written with the id first), in one step. KEYS[1] the room's chat list.
 */
const REMOVE_CHAT_MESSAGE_SCRIPT = `
local prefix = ARGV[1]
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.sub(entry, 1, #prefix) == prefix then return redis.call('LREM', KEYS[1], 1, entry) end
end
return 0
`;

/**
 * What a room carries from its node to the next one, in Redis, so that a failover keeps it:
 * the room's HLS numbering (the new broadcast carries it on), its private setting (a private
 * room stays private), its blocks (a blocked identity stays out), its promotions (a guest that
 * comes back within the grace is a guest again), its chat history and its chat mutes (a late
 * joiner sees the same history; a muted identity stays muted). The owner writes as things
 * change; the node that takes the room over reads before the room exists there. Keys, under the
 * placement's prefix (room ids match ROOM_ID_PATTERN, so no id can reach another room's key;
 * identities are only ever hash fields, set members or JSON):
 *   hls:<id>        JSON HlsNumbering, expiring an hour after the last save
 *   private:<id>    "1" or "0"
 *   blocks:<id>     hash: identity → JSON CarriedBlock
 *   grants:<id>     hash: identity → JSON RoleGrant (`lapsesAt` once its last connection left)
 *   chat:<id>       list: JSON ChatMessage (id first), oldest first, trimmed to the owner's CHAT_HISTORY
 *   chatmutes:<id>  set of muted identities
 * A grant has no TTL of its own: while its identity is connected it must last however long the
 * guest stays on stage, and the owner writes only as things change. Its record says when it
 * lapses once that is known, and the demote, leave-the-stage, block or lapse that ends it in
 * memory deletes it here. Writes are best effort and logged; a read that fails reads as nothing
 * carried, and a damaged record is skipped.
 */
export class RedisRoomState {
  private readonly client: RedisClientType;
  private readonly prefix: string;
  private readonly isClosed: () => boolean;

  constructor(client: RedisClientType, prefix: string, isClosed: () => boolean) {
    this.client = client;
    this.prefix = prefix;
    this.isClosed = isClosed;
  }

  async loadNumbering(roomId: string): Promise<HlsNumbering | undefined> {
    try {
      const raw = await this.client.get(this.key('hls', roomId));
      const parsed: unknown = raw ? JSON.parse(raw) : undefined;
      return isNumbering(parsed) ? parsed : undefined;
    } catch (err) {
      warn(roomId, 'reading the HLS numbering failed', err);
      return undefined;
    }
  }

  saveNumbering(roomId: string, point: HlsNumbering): void {
    const value = JSON.stringify({ nextMsn: point.nextMsn, discontinuitySequence: point.discontinuitySequence });
    this.write(roomId, 'saving the HLS numbering failed', () => this.client.set(this.key('hls', roomId), value, { PX: HLS_NUMBERING_TTL_MS }));
  }

  async load(roomId: string): Promise<CarriedRoomState> {
    try {
      const [priv, blocks, grants, chat, chatMuted] = await Promise.all([
        this.client.get(this.key('private', roomId)),
        this.client.hGetAll(this.key('blocks', roomId)),
        this.client.hGetAll(this.key('grants', roomId)),
        this.client.lRange(this.key('chat', roomId), 0, -1),
        this.client.sMembers(this.key('chatmutes', roomId)),
      ]);
      return {
        ...(priv === '1' || priv === '0' ? { private: priv === '1' } : {}),
        blocks: Object.values(blocks).flatMap((raw) => parsed(raw, parseBlock)),
        grants: Object.values(grants).flatMap((raw) => parsed(raw, parseGrant)),
        chat: chat.flatMap((raw) => parsed(raw, parseChatMessage)),
        chatMuted: chatMuted.filter(isIdentity).sort(),
      };
    } catch (err) {
      warn(roomId, 'reading the room state failed', err);
      return { blocks: [], grants: [], chat: [], chatMuted: [] };
    }
  }

  savePrivate(roomId: string, value: boolean): void {
    this.write(roomId, 'saving the private setting failed', () => this.client.set(this.key('private', roomId), value ? '1' : '0'));
  }

  saveBlock(roomId: string, entry: CarriedBlock): void {
    this.write(roomId, 'saving a block failed', () => this.client.hSet(this.key('blocks', roomId), entry.identity, JSON.stringify(entry)));
  }

  removeBlock(roomId: string, identity: string): void {
    this.write(roomId, 'removing a block failed', () => this.client.hDel(this.key('blocks', roomId), identity));
  }

  /** A promotion was given, held again or started lapsing. */
  saveGrant(roomId: string, grant: RoleGrant): void {
    const value = JSON.stringify({ identity: grant.identity, role: grant.role, ...(grant.lapsesAt ? { lapsesAt: grant.lapsesAt } : {}) });
    this.write(roomId, 'saving a role grant failed', () => this.client.hSet(this.key('grants', roomId), grant.identity, value));
  }

  removeGrant(roomId: string, identity: string): void {
    this.write(roomId, 'removing a role grant failed', () => this.client.hDel(this.key('grants', roomId), identity));
  }

  /** Appends a chat message and keeps the newest `keep` (the room's CHAT_HISTORY; 0 keeps none). */
  saveChatMessage(roomId: string, message: ChatMessage, keep: number): void {
    if (keep <= 0) return;
    const key = this.key('chat', roomId);
    const { participantId, identity, role } = message.from;
    // The id first: REMOVE_CHAT_MESSAGE_SCRIPT finds an entry by it.
    const value = JSON.stringify({ id: message.id, from: { participantId, identity, role }, text: message.text, at: message.at });
    this.write(roomId, 'saving a chat message failed', () => this.client.multi().rPush(key, value).lTrim(key, -keep, -1).exec());
  }

  removeChatMessage(roomId: string, messageId: string): void {
    const prefix = `{"id":${JSON.stringify(messageId)},`;
    this.write(roomId, 'removing a chat message failed', () => this.client.eval(REMOVE_CHAT_MESSAGE_SCRIPT, { keys: [this.key('chat', roomId)], arguments: [prefix] }));
  }

  saveChatMute(roomId: string, identity: string, muted: boolean): void {
    const key = this.key('chatmutes', roomId);
    this.write(roomId, 'saving a chat mute failed', () => (muted ? this.client.sAdd(key, identity) : this.client.sRem(key, identity)));
  }

  /** The room was deleted: nothing of it is carried any more. */
  forget(roomId: string): void {
    const kinds = ['hls', 'private', 'blocks', 'grants', 'chat', 'chatmutes'];
    this.write(roomId, 'forgetting the room state failed', () => this.client.del(kinds.map((kind) => this.key(kind, roomId))));
  }

  private write(roomId: string, what: string, op: () => Promise<unknown>): void {
    if (this.isClosed()) return;
    op().catch((err: unknown) => warn(roomId, what, err));
  }

  private key(kind: string, roomId: string): string {
    return `${this.prefix}${kind}:${roomId}`;
  }
}

function warn(roomId: string, what: string, err: unknown): void {
  log.warn({ room: roomId, err: err instanceof Error ? err.message : String(err) }, what);
}

function isNumbering(value: unknown): value is HlsNumbering {
  const v = value as Partial<HlsNumbering> | undefined;
  return !!v && Number.isSafeInteger(v.nextMsn) && v.nextMsn! >= 0 && Number.isSafeInteger(v.discontinuitySequence) && v.discontinuitySequence! >= 0;
}

/** One record, or none when it is damaged (not JSON, or not the shape `parse` wants). */
function parsed<T>(raw: string, parse: (value: unknown) => T | undefined): T[] {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return [];
  }
  const entry = parse(value);
  return entry ? [entry] : [];
}

function parseBlock(value: unknown): CarriedBlock | undefined {
  const v = value as Partial<CarriedBlock> | null;
  if (typeof v?.identity !== 'string' || typeof v.blockedAt !== 'string') return undefined;
  return {
    identity: v.identity,
    blockedAt: v.blockedAt,
    ...(typeof v.by === 'string' ? { by: v.by } : {}),
    ...(typeof v.reason === 'string' ? { reason: v.reason } : {}),
  };
}

function parseGrant(value: unknown): RoleGrant | undefined {
  const v = value as Partial<RoleGrant> | null;
  if (!isIdentity(v?.identity) || v.role !== 'guest') return undefined;
  if (v.lapsesAt === undefined) return { identity: v.identity, role: v.role };
  return typeof v.lapsesAt === 'string' && Number.isFinite(Date.parse(v.lapsesAt)) ? { identity: v.identity, role: v.role, lapsesAt: v.lapsesAt } : undefined;
}

function parseChatMessage(value: unknown): ChatMessage | undefined {
  const v = value as Partial<ChatMessage> | null;
  const from = v?.from as Partial<ChatMessage['from']> | null | undefined;
  if (typeof v?.id !== 'string' || typeof v.text !== 'string' || typeof v.at !== 'string') return undefined;
  if (typeof from?.participantId !== 'string' || typeof from.identity !== 'string' || !AUTHOR_ROLES.has(from.role as string)) return undefined;
  return { id: v.id, from: { participantId: from.participantId, identity: from.identity, role: from.role! }, text: v.text, at: v.at };
}

/** A token's identity is 1 to 128 characters (auth identitySchema). */
function isIdentity(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 128;
}
