import { EventEmitter } from 'node:events';
import { logger } from './logger.ts';

type EventMap = Record<string, unknown[]>;

/**
 * An EventEmitter with a typed event map (`{ close: [reason: string] }`) whose `safeEmit`
 * survives listeners that throw: one faulty listener must not break the media object that
 * emitted, nor the other listeners.
 */
export class EnhancedEventEmitter<E extends EventMap = EventMap> extends EventEmitter {
  constructor() {
    super();
    this.setMaxListeners(Infinity);
  }

  override on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  override once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }

  override off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }

  /** Emits to every listener; a listener that throws is logged and the rest still run. */
  safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    const listeners = this.rawListeners(event);
    for (const listener of listeners) {
      try {
        (listener as (...a: unknown[]) => void).apply(this, args);
      } catch (err) {
        logger.error({ event, err: err instanceof Error ? err.message : String(err) }, 'event listener threw');
      }
    }
    return listeners.length > 0;
  }
}
