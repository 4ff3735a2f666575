import type { Readable } from 'node:stream';
import { readFmp4 } from './fmp4Reader.ts';
import type { FragmentInfo } from './fragment.ts';
import type { InitSegmentInfo } from './initSegment.ts';

export interface IngestHandlers {
  onInit: (data: Buffer, info: InitSegmentInfo) => void;
  onFragment: (data: Buffer, info: FragmentInfo) => void;
  /** The attached stream ended or failed on its own (not detached): the input is over. */
  onInputOver: () => void;
  /** The attached stream failed to read or parse; `onInputOver` follows. */
  onInputError: (err: Error) => void;
}

/**
 * One rendition's fMP4 input: reads the attached stream and hands its init segments and
 * fragments on, in order. A newer stream, or `detach()`, silences the older one at once: each
 * read checks a token, so nothing of a detached stream arrives after it was replaced.
 */
export class Ingest {
  private readonly handlers: IngestHandlers;
  private input: Readable | undefined;
  private token = 0;

  constructor(handlers: IngestHandlers) {
    this.handlers = handlers;
  }

  /** Starts reading `stream`; a previous one is detached (and destroyed). */
  attach(stream: Readable): void {
    this.detach();
    const token = ++this.token;
    this.input = stream;
    void this.consume(stream, token);
  }

  /** Stops reading the current stream (and destroys it). Idempotent. */
  detach(): void {
    const input = this.input;
    this.input = undefined;
    this.token++;
    if (input && !input.destroyed) input.destroy();
  }

  private async consume(stream: Readable, token: number): Promise<void> {
    try {
      for await (const chunk of readFmp4(stream)) {
        if (token !== this.token) return;
        if (chunk.kind === 'init') this.handlers.onInit(chunk.data, chunk.info);
        else this.handlers.onFragment(chunk.data, chunk.info);
      }
    } catch (err) {
      if (token !== this.token) return; // detached on purpose
      this.handlers.onInputError(err instanceof Error ? err : new Error(String(err)));
    }
    if (token !== this.token) return;
    this.input = undefined;
    this.handlers.onInputOver();
  }
}
