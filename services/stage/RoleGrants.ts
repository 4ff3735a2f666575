import type { Role, StageRole } from './StageTypes.ts';

/**
 * The roles a room has granted beyond its tokens', per identity: today a viewer promoted to
 * `guest`. This is the one place a participant's current role comes from (with its token's
 * role, which never changes), so every connection of an identity has the same role and a
 * guest whose signaling reconnects comes back a guest.
 *
 * A grant outlives its identity's connections for `graceMs`, so a reconnect keeps it; after
 * that, or on demote, leaving the stage, kick or block, it is gone.
 */
export class RoleGrants {
  private readonly granted = new Map<string, StageRole>();
  private readonly lapsing = new Map<string, NodeJS.Timeout>();
  private readonly graceMs: number;

  /** `graceMs`: how long a grant waits for its identity to come back after its last connection left. */
  constructor(graceMs: number) {
    this.graceMs = graceMs;
  }

  /** The current role of a connection of `identity` admitted with `tokenRole`. */
  roleOf(identity: string, tokenRole: Role): StageRole {
    return tokenRole === 'viewer' ? (this.granted.get(identity) ?? 'viewer') : tokenRole;
  }

  grant(identity: string, role: 'guest'): void {
    this.resume(identity);
    this.granted.set(identity, role);
  }

  /** False if it had none. */
  revoke(identity: string): boolean {
    this.resume(identity);
    return this.granted.delete(identity);
  }

  /** The identity's last connection left: its grant goes unless it is back within the grace. */
  lapse(identity: string): void {
    if (!this.granted.has(identity) || this.lapsing.has(identity)) return;
    const timer = setTimeout(() => {
      this.lapsing.delete(identity);
      this.granted.delete(identity);
    }, this.graceMs);
    timer.unref();
    this.lapsing.set(identity, timer);
  }

  /** The identity has a connection again: its grant stays. */
  resume(identity: string): void {
    clearTimeout(this.lapsing.get(identity));
    this.lapsing.delete(identity);
  }

  clear(): void {
    for (const timer of this.lapsing.values()) clearTimeout(timer);
    this.lapsing.clear();
    this.granted.clear();
  }
}
