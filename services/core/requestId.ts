import { randomUUID } from 'node:crypto';

/** The header a request's id travels in, both ways. */
export const REQUEST_ID_HEADER = 'x-request-id';

const ACCEPTED = /^[A-Za-z0-9._:-]{1,128}$/;

/** The id of a request: the caller's `x-request-id` when it is a sane token, else a fresh UUID. */
export function requestIdFor(incoming: string | undefined): string {
  return incoming && ACCEPTED.test(incoming) ? incoming : randomUUID();
}
