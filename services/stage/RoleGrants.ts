import type { Role, RoleGrant, StageRole } from './StageTypes.ts';

/** Told every change of an identity's grant (`undefined`: it has none any more). */
export type GrantChanged = (identity: string, grant: RoleGrant | undefined) => void;

/**
 * The roles a room has granted beyond its tokens', per identity: today a viewer promoted to
 * `guest`. This is the one place a participant's current role comes from (with its token's
 * role, which never changes), so every connection of an identity has the same role and a
 * guest whose signaling reconnects comes back a guest.
 *
 * A grant outlives its identity's connections for `graceMs`, so a reconnect keeps it; after
 * that, or on demote, leaving the stage, kick or block, it is gone. Each change is told to
 * `changed` (the room announces it as `grantchanged`); `clear()` tells nothing, as the room
 * closing takes nothing away from what it carries to another node.
 */
export class RoleGrants {
  private readonly granted = new Map<string, RoleGrant['role']>();
  private readonly lapsing = new Map<string, { timer: NodeJS.Timeout; at: number }>();
  private readonly graceMs: number;
  private readonly changed: GrantChanged;

  /** `graceMs`: how long a grant waits for its identity to come back after its last connection left. */
  constructor(graceMs: number, changed: GrantChanged = () => {}) {
    this.graceMs = graceMs;
    this.changed = changed;
  }

  /** The current role of a connection of `identity` admitted with `tokenRole`. */
  roleOf(identity: string, tokenRole: Role): StageRole {
    return tokenRole === 'viewer' ? (this.granted.get(identity) ?? 'viewer') : tokenRole;
  }

  grant(identity: string, role: RoleGrant['role']): void {
    this.stopLapse(identity);
    this.granted.set(identity, role);
    this.changed(identity, { identity, role });
  }

  /** False if it had none. */
  revoke(identity: string): boolean {
    this.stopLapse(identity);
    if (!this.granted.delete(identity)) return false;
    this.changed(identity, undefined);
    return true;
  }

  /** The identity's last connection left: its grant goes unless it is back within the grace. */
  lapse(identity: string, now = Date.now()): void {
    const role = this.granted.get(identity);
    if (!role || this.lapsing.has(identity)) return;
    this.startLapse(identity, role, now + this.graceMs, now);
  }

  /** The identity has a connection again: its grant stays. */
  resume(identity: string): void {
    const role = this.granted.get(identity);
    if (this.stopLapse(identity) && role) this.changed(identity, { identity, role });
  }

  /**
   * Takes over a grant the room had on the node it came from (cluster failover), before any
   * connection exists here, so it is lapsing: at its recorded `lapsesAt`, never later than one
   * grace from now; recorded while its identity was connected (no `lapsesAt`), one grace from
   * now, as every connection went with that node. A deadline other than the recorded one is
   * told (`changed`); a grant already lapsed, or one the identity holds here already, is left
   * alone.
   */
  restore(grant: RoleGrant, now = Date.now()): void {
    if (this.granted.has(grant.identity)) return;
    const recorded = grant.lapsesAt === undefined ? undefined : Date.parse(grant.lapsesAt);
    const at = Math.min(recorded ?? Infinity, now + this.graceMs);
    if (!(at > now)) return;
    this.granted.set(grant.identity, grant.role);
    this.startLapse(grant.identity, grant.role, at, now, at !== recorded);
  }

  /** Every grant, with its deadline when lapsing. */
  list(): RoleGrant[] {
    return [...this.granted].map(([identity, role]) => {
      const lapsing = this.lapsing.get(identity);
      return { identity, role, ...(lapsing ? { lapsesAt: new Date(lapsing.at).toISOString() } : {}) };
    });
  }

  clear(): void {
    for (const { timer } of this.lapsing.values()) clearTimeout(timer);
    this.lapsing.clear();
    this.granted.clear();
  }

  private startLapse(identity: string, role: RoleGrant['role'], at: number, now: number, tell = true): void {
    const timer = setTimeout(() => {
      this.lapsing.delete(identity);
      this.granted.delete(identity);
      this.changed(identity, undefined);
    }, at - now);
    timer.unref();
    this.lapsing.set(identity, { timer, at });
    if (tell) this.changed(identity, { identity, role, lapsesAt: new Date(at).toISOString() });
  }

  /** False if it was not lapsing. */
  private stopLapse(identity: string): boolean {
    const lapsing = this.lapsing.get(identity);
    if (!lapsing) return false;
    clearTimeout(lapsing.timer);
    this.lapsing.delete(identity);
    return true;
  }
}
