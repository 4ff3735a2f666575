// Messages between bench/origin-load.ts and its server and viewer processes.

export interface Publication {
  msn: number;
  index: number;
  /** performance.timeOrigin + performance.now() of the publishing process (wall clock, µs-precise). */
  at: number;
}

export type ServerRequest = { op: 'cpu' } | { op: 'static'; on: boolean } | { op: 'publications' } | { op: 'shutdown' };
export type ServerReply =
  | { op: 'ready'; port: number; partTargetSec: number; playlistPath: string }
  | { op: 'cpu'; micros: number }
  | { op: 'static' }
  | { op: 'publications'; origin: Publication[]; static: Publication[] };

export interface ViewerRun {
  mode: 'blocking' | 'polling';
  port: number;
  playlistPath: string;
  viewers: number;
  rampMs: number;
  partTargetMs: number;
  windowStart: number;
  windowEnd: number;
}

export type ViewerReply =
  | { op: 'ready' }
  | {
      op: 'done';
      requests: number;
      errors: Record<string, number>;
      /** Flattened (msn, part, response time) of each playlist response that brought a new part. */
      releases: number[];
      /** Flattened (msn, part, response time) of each part fetched. */
      parts: number[];
      cpuMicros?: number;
    };
