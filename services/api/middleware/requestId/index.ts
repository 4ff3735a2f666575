import { createMiddleware } from 'hono/factory';
import { logger } from '../../../core/logger.ts';
import { REQUEST_ID_HEADER, requestIdFor } from '../../../core/requestId.ts';
import type { AppEnv } from '../../types.ts';

export { REQUEST_ID_HEADER } from '../../../core/requestId.ts';

/** The marker of @hono/node-server's RESPONSE_ALREADY_SENT. */
const ALREADY_SENT_HEADER = 'x-hono-already-sent';

/**
 * Gives every request an id: the caller's `x-request-id` when it is a sane token, else a
 * fresh UUID. Sets it on the response and on a child logger (`c.var.log`), and logs one line
 * per request with method, path (never the query: it may carry a token), status and duration:
 * at `error` for 5xx, else at `debug`. An HLS audience makes thousands of requests a second
 * (a blocking reload and a part per viewer every part), so a line each at `info` would cost
 * more than answering them; the line is not even built unless `debug` is on.
 */
export function requestId() {
  return createMiddleware<AppEnv>(async (c, next) => {
    const id = requestIdFor(c.req.header(REQUEST_ID_HEADER));
    const log = logger.child({ reqId: id });
    c.set('requestId', id);
    c.set('log', log);
    const started = performance.now();
    // Before the handler: it goes into the response as the handler builds it. After the
    // handler, c.header() makes hono rebuild the response around a stream of its body.
    c.header(REQUEST_ID_HEADER, id);
    await next();
    // A Response built by hand lacks it; one the handler wrote itself to Node (the origin's direct
    // answers, with the id in them) must not be touched: hono would rebuild it and the adapter write it again.
    if (!c.res.headers.has(ALREADY_SENT_HEADER) && c.res.headers.get(REQUEST_ID_HEADER) !== id) c.header(REQUEST_ID_HEADER, id);
    const status = c.res.status;
    const level = status >= 500 ? 'error' : 'debug';
    if (!log.isLevelEnabled(level)) return;
    log[level]({ method: c.req.method, path: c.req.path, status, ms: Math.round((performance.now() - started) * 10) / 10 }, 'request');
  });
}
