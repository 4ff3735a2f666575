import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ServiceError, toErrorBody } from '../../../core/errors.ts';
import { logger } from '../../../core/logger.ts';

/**
 * The one place errors become HTTP responses: `{ error: { code, message } }` with the
 * ServiceError's status. Anything else is a 500 `internal` whose details go to the log only.
 */
export const onError: ErrorHandler = (err, c) => {
  let mapped = err;
  if (err instanceof HTTPException && !(err instanceof ServiceError)) {
    // Hono's own 4xx (e.g. malformed request) carry no secrets; keep their status.
    mapped = err.status < 500 ? new ServiceError('bad_request', 'bad request', err.status) : err;
  }
  const { status, body } = toErrorBody(mapped);
  const log = (c as Context).get('log') ?? logger;
  if (status >= 500) log.error({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'request failed');
  return c.json(body, status as ContentfulStatusCode);
};

export const notFound: NotFoundHandler = (c) => {
  const { status, body } = toErrorBody(new ServiceError('not_found', 'no such resource'));
  return c.json(body, status as ContentfulStatusCode);
};
