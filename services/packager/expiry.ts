import type { ObjectNames } from './names.ts';
import type { StoredEntry } from './storageMirror.ts';

/**
 * Which stored objects of a live (not recorded) rendition may go: segments a full window
 * older than the first one the stored playlist lists (so that a reader of an older playlist
 * still finds them), and init segments that no remaining segment uses.
 */
export class Expiry {
  private readonly windowSegments: number;
  private readonly names: ObjectNames;
  private deletedBelowMsn = 0;

  constructor(windowSegments: number, names: ObjectNames) {
    this.windowSegments = windowSegments;
    this.names = names;
  }

  /**
   * Called after a stored playlist starting at `playlistFirstMsn` was written. Removes the
   * expired entries from the front of `entries` and returns the names of the objects to
   * delete, in order. `currentGeneration` is the init in use by the input: never deleted.
   */
  expire(entries: StoredEntry[], playlistFirstMsn: number, currentGeneration: number): string[] {
    const below = playlistFirstMsn - this.windowSegments;
    if (below <= this.deletedBelowMsn) return [];
    const names = this.names;
    const deletes: string[] = [];
    while (entries.length > 0 && entries[0]!.segment.msn < below) {
      const entry = entries.shift()!;
      if (entry.state === 'stored') deletes.push(names.segment(entry.segment.msn));
      const generation = entry.initGeneration;
      const stillUsed = generation === currentGeneration || entries.some((e) => e.initGeneration === generation);
      if (!stillUsed) deletes.push(names.init(generation));
    }
    this.deletedBelowMsn = below;
    return deletes;
  }
}
