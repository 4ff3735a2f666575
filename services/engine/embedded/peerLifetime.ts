import type { RTCPeerConnection } from 'werift';
import { InvalidStateError } from '../../core/errors.ts';

/** How long a close waits for a negotiation step in flight before it closes the connection anyway. */
const STEP_GRACE_MS = 10_000;

/**
 * When a leg's werift RTCPeerConnection may be closed. werift's `close()` does not stop work
 * that a negotiation in progress starts afterwards: a `setLocalDescription` that was under way
 * still gathers, and the UDP socket it opens then stays open (and keeps the process alive); a
 * `setRemoteDescription` cut short by close may never settle. So a leg runs each negotiation
 * through `step()`, and `close()` closes the connection once no step is in flight (or after
 * STEP_GRACE_MS). A step that was in flight when the leg closed rejects with InvalidStateError:
 * nobody gets an answer for a leg that no longer exists.
 */
export class PeerLifetime {
  private readonly pc: RTCPeerConnection;
  private readonly what: string;
  private inFlight = 0;
  private closing = false;
  private released = false;

  constructor(pc: RTCPeerConnection, what: string) {
    this.pc = pc;
    this.what = what;
  }

  get closed(): boolean {
    return this.closing;
  }

  async step<T>(fn: () => Promise<T>): Promise<T> {
    this.assertOpen();
    this.inFlight++;
    try {
      const value = await fn();
      this.assertOpen();
      return value;
    } finally {
      if (--this.inFlight === 0 && this.closing) this.release();
    }
  }

  /** Throws once the leg has closed; a step calls it between awaits so that it stops early. */
  assertOpen(): void {
    if (this.closing) throw new InvalidStateError(`${this.what} closed during negotiation`);
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.inFlight === 0) return this.release();
    setTimeout(() => this.release(), STEP_GRACE_MS).unref();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.pc.close().catch(() => {});
  }
}
