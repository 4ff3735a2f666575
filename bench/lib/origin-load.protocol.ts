// Messages between bench/origin-load.ts and its server and viewer processes.

export interface Publication {
  msn: number;
  index: number;
  /** performance.timeOrigin + performance.now() of the publishing process (wall clock, µs-precise). */
  at: number;
}

export type ServerRequest = { op: 'cpu' } | { op: 'static'; on: boolean } | { op: 'publications' } | { op: 'requests' } | { op: 'shutdown' };
export type ServerReply =
  | { op: 'ready'; port: number; partTargetSec: number; playlistPath: string }
  | { op: 'cpu'; micros: number }
  | { op: 'static' }
  | { op: 'publications'; origin: Publication[]; static: Publication[] }
  | { op: 'requests'; counts: RequestCounts };

/**
 * Requests the origin answered since the last `requests` call (BENCH_COUNT_REQUESTS=1 only):
 * blocking playlist reloads by `msn.part` asked for, media objects by name, and the rest.
 */
export interface RequestCounts {
  blocking: Record<string, number>;
  media: Record<string, number>;
  other: number;
}

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
      /** CPU of the viewer process within the measurement window (start-up and ramp left out). */
      windowCpuMicros?: number;
      /** The part of windowCpuMicros spent in the kernel (system time). */
      windowSystemMicros?: number;
    };
