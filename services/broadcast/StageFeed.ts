import type { CloseReason, StageTrack } from '../engine/EngineTypes.ts';

/** What a broadcast watches of a stage's events. */
export interface StageFeedEvents {
  trackpublished: [track: StageTrack];
  trackunpublished: [track: StageTrack, reason: CloseReason];
  /** The stage is gone; nothing more comes. */
  close: [reason: string];
}

/**
 * What a broadcast needs of a stage: its id, its live tracks (the stage keeps them; the
 * broadcast keeps no copy) and word when they change. A stage Room satisfies it structurally,
 * so `broadcast/` does not import `stage/`.
 */
export interface StageFeed {
  readonly id: string;
  tracks(): StageTrack[];
  readonly observer: {
    on<K extends keyof StageFeedEvents & string>(event: K, listener: (...args: StageFeedEvents[K]) => void): unknown;
    off<K extends keyof StageFeedEvents & string>(event: K, listener: (...args: StageFeedEvents[K]) => void): unknown;
  };
}

/** Where stages come from: every new one, and one by id. A RoomRegistry satisfies it. */
export interface StageDirectory {
  get(id: string): StageFeed | undefined;
  readonly observer: {
    on(event: 'newroom', listener: (stage: StageFeed) => void): unknown;
    off(event: 'newroom', listener: (stage: StageFeed) => void): unknown;
  };
}
