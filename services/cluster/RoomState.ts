import type { RedisClientType } from 'redis';
import { logger } from '../core/logger.ts';

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

/** What a room takes to its next node: its private setting (when one was set) and its blocks. */
export interface CarriedRoomState {
  private?: boolean;
  blocks: CarriedBlock[];
}

/**
 * What a room carries from its node to the next one, in Redis, so that a failover keeps it:
 * the room's HLS numbering (the new broadcast carries it on), its private setting (a private
 * room stays private) and its blocks (a blocked identity stays out). The owner writes as things
 * change; the node that takes the room over reads before the room exists there. Keys, under the
 * placement's prefix:
 *   hls:<id>      JSON HlsNumbering, expiring an hour after the last save
 *   private:<id>  "1" or "0"
 *   blocks:<id>   hash: identity → JSON CarriedBlock
 * Writes are best effort and logged; a read that fails reads as nothing carried.
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
      const [priv, blocks] = await Promise.all([this.client.get(this.key('private', roomId)), this.client.hGetAll(this.key('blocks', roomId))]);
      return {
        ...(priv === '1' || priv === '0' ? { private: priv === '1' } : {}),
        blocks: Object.values(blocks).flatMap((raw) => {
          const entry = parseBlock(raw);
          return entry ? [entry] : [];
        }),
      };
    } catch (err) {
      warn(roomId, 'reading the room state failed', err);
      return { blocks: [] };
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

  /** The room was deleted: nothing of it is carried any more. */
  forget(roomId: string): void {
    this.write(roomId, 'forgetting the room state failed', () => this.client.del([this.key('hls', roomId), this.key('private', roomId), this.key('blocks', roomId)]));
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

function parseBlock(raw: string): CarriedBlock | undefined {
  try {
    const v = JSON.parse(raw) as Partial<CarriedBlock>;
    if (typeof v?.identity !== 'string' || typeof v.blockedAt !== 'string') return undefined;
    return {
      identity: v.identity,
      blockedAt: v.blockedAt,
      ...(typeof v.by === 'string' ? { by: v.by } : {}),
      ...(typeof v.reason === 'string' ? { reason: v.reason } : {}),
    };
  } catch {
    return undefined;
  }
}
