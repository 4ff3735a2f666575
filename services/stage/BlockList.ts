import type { BlockEntry } from './StageTypes.ts';

/** Identities refused in one room until unblocked. Lives as long as the room. */
export class BlockList {
  private readonly blocks = new Map<string, BlockEntry>();

  has(identity: string): boolean {
    return this.blocks.has(identity);
  }

  /** Blocks (or re-blocks, keeping the first entry); returns the entry. */
  add(identity: string, by: string | undefined, reason: string | undefined, now = new Date()): BlockEntry {
    const existing = this.blocks.get(identity);
    if (existing) return { ...existing };
    const entry: BlockEntry = { identity, blockedAt: now.toISOString(), ...(by ? { by } : {}), ...(reason ? { reason } : {}) };
    this.blocks.set(identity, entry);
    return { ...entry };
  }

  /** Takes a block over as it was recorded (the room moved here from another node). */
  restore(entry: BlockEntry): void {
    if (!this.blocks.has(entry.identity)) this.blocks.set(entry.identity, { ...entry });
  }

  /** False if it was not blocked. */
  remove(identity: string): boolean {
    return this.blocks.delete(identity);
  }

  list(): BlockEntry[] {
    return [...this.blocks.values()].map((b) => ({ ...b }));
  }
}
