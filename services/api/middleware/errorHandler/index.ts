import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { logServerFailure, ServiceError, toErrorBody } from '../../../core/errors.ts';
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
  if (status >= 500) logServerFailure(log, mapped, 'request failed');
  if (leavesBodyUnread(c as Context, status)) c.header('connection', 'close');
  return c.json(body, status as ContentfulStatusCode);
};

/**
 * A refusal sent before the request's body was read (413, a wrong Content-Type, a bad token on a
 * POST) leaves that body in the connection, where the next request would be parsed out of it.
 * Such answers say `Connection: close`, and Node closes the connection after sending them; a
 * 413 always does, since its body may be only partly read.
 */
function leavesBodyUnread(c: Context, status: number): boolean {
  if (status === 413) return true;
  const declared = c.req.header('content-length');
  const hasBody = c.req.header('transfer-encoding') !== undefined || (declared !== undefined && declared !== '0');
  return hasBody && Object.keys(c.req.bodyCache).length === 0;
}

export const notFound: NotFoundHandler = (c) => {
  const { status, body } = toErrorBody(new ServiceError('not_found', 'no such resource'));
  if (leavesBodyUnread(c, status)) c.header('connection', 'close');
  return c.json(body, status as ContentfulStatusCode);
};
