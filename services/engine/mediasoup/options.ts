import type { EngineOptions } from '../EngineTypes.ts';

/** Settings of the mediasoup engine, on top of the options every engine takes. */
export interface MediasoupEngineOptions extends EngineOptions {
  /** Path of the mediasoup-worker binary. */
  workerBin: string;
  /** Worker processes; one per core is the usual choice. */
  numWorkers: number;
  /**
   * Consumers a room may have on one worker before new subscribers go to a router on another
   * worker, fed through pipeToRouter.
   */
  consumersPerWorker: number;
  /** mediasoup worker log level. */
  logLevel: 'debug' | 'warn' | 'error' | 'none';
}
