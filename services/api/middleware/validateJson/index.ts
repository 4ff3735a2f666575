import { createMiddleware } from 'hono/factory';
import type { z } from 'zod';
import { ServiceError } from '../../../core/errors.ts';

/**
 * Parses the JSON body and validates it with `schema` before the handler runs; the handler
 * reads the typed result as `c.get('json')`. An empty body counts as `{}` (so `POST
 * /api/rooms` needs none). Failures are 400 `bad_request` naming the first offending field.
 */
export function validateJson<S extends z.ZodType>(schema: S) {
  return createMiddleware<{ Variables: { json: z.infer<S> } }>(async (c, next) => {
    const type = c.req.header('content-type') ?? '';
    const text = await c.req.text();
    let value: unknown = {};
    if (text.trim() !== '') {
      if (!/^application\/json\b/i.test(type)) throw new ServiceError('bad_request', 'expected Content-Type: application/json', 415);
      try {
        value = JSON.parse(text);
      } catch {
        throw new ServiceError('bad_request', 'body is not valid JSON');
      }
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.length ? issue.path.join('.') : 'body';
      throw new ServiceError('bad_request', `invalid ${field}: ${issue.message}`);
    }
    c.set('json', parsed.data);
    await next();
  });
}
