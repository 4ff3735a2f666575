import type { EngineEvents, EngineOptions, MediaEngine } from '../EngineTypes.ts';

/** Methods of MediaEngine that cross the thread boundary (everything but the event API). */
export type EngineMethod = Exclude<keyof MediaEngine, 'kind' | 'capabilities' | 'on' | 'off'>;

export interface EngineThreadData {
  kind: 'embedded';
  options: EngineOptions;
}

export type ToThread = { t: 'call'; id: number; method: EngineMethod; args: unknown[] };

export type FromThread =
  | { t: 'ready' }
  | { t: 'result'; id: number; ok: true; value: unknown }
  | { t: 'result'; id: number; ok: false; error: { name: string; code: string; message: string; status: number } }
  | { t: 'event'; name: keyof EngineEvents; args: unknown[] };
