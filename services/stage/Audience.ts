import type { AudienceCounts, StageRole } from './StageTypes.ts';

/** Default shortest time between two `audiencechanged` announcements of a room, ms. */
export const AUDIENCE_INTERVAL_MS = 1000;

/** Participants (connections: signaling, WHIP and WHEP) by current role, and their total. */
export function countAudience(roles: Iterable<StageRole>): AudienceCounts {
  const counts: AudienceCounts = { presenter: 0, guest: 0, moderator: 0, viewer: 0, total: 0 };
  for (const role of roles) {
    counts[role]++;
    counts.total++;
  }
  return counts;
}

function sameCounts(a: AudienceCounts, b: AudienceCounts): boolean {
  return a.presenter === b.presenter && a.guest === b.guest && a.moderator === b.moderator && a.viewer === b.viewer && a.total === b.total;
}

/**
 * Coalesces a room's audience changes: after a `poke()` (someone joined, left or changed role)
 * it announces the counts at most once per `intervalMs`, and only when they differ from the
 * last announced ones, so a burst of joins costs one message and a join followed by its leave
 * costs none. `close()` stops its timer; idempotent.
 */
export class AudienceTicker {
  private readonly count: () => AudienceCounts;
  private readonly announce: (counts: AudienceCounts) => void;
  private readonly intervalMs: number;
  private last: AudienceCounts;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(count: () => AudienceCounts, announce: (counts: AudienceCounts) => void, intervalMs = AUDIENCE_INTERVAL_MS) {
    this.count = count;
    this.announce = announce;
    this.intervalMs = intervalMs;
    this.last = count();
  }

  /** The counts may have changed: announce them within `intervalMs` if they did. */
  poke(now = Date.now()): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, this.lastAt + this.intervalMs - now));
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    if (this.closed) return;
    const counts = this.count();
    if (sameCounts(counts, this.last)) return;
    this.last = counts;
    this.lastAt = Date.now();
    this.announce(counts);
  }
}
