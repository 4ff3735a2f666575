import type { HandEntry } from './StageTypes.ts';

/** Raised hands in the order they went up. Raising again keeps the original place. */
export class HandQueue {
  private readonly hands = new Map<string, HandEntry>();

  has(participantId: string): boolean {
    return this.hands.has(participantId);
  }

  /** Adds the hand at the end; false if it was already up (its place is kept). */
  raise(participantId: string, identity: string, now = new Date()): boolean {
    if (this.hands.has(participantId)) return false;
    this.hands.set(participantId, { participantId, identity, raisedAt: now.toISOString() });
    return true;
  }

  /** False if it was not up. */
  lower(participantId: string): boolean {
    return this.hands.delete(participantId);
  }

  get(participantId: string): HandEntry | undefined {
    return this.hands.get(participantId);
  }

  /** A copy, oldest first. */
  list(): HandEntry[] {
    return [...this.hands.values()].map((h) => ({ ...h }));
  }

  clear(): void {
    this.hands.clear();
  }
}
