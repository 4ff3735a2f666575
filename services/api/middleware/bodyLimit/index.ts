import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { ServiceError } from '../../../core/errors.ts';

/**
 * Rejects request bodies over `maxBytes` with 413 `payload_too_large`, whether the size is
 * declared (Content-Length) or only discovered while reading a chunked body.
 */
export function bodyLimit(maxBytes: number) {
  return honoBodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ServiceError('payload_too_large', `request body exceeds ${maxBytes} bytes`);
    },
  });
}
