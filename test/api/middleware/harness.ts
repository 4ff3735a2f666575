import { Hono } from 'hono';
import { notFound, onError } from '../../../services/api/middleware/errorHandler/index.ts';
import type { AppEnv } from '../../../services/api/types.ts';

/** A bare app with the production error mapping, for testing one middleware at a time. */
export function testApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError(onError);
  app.notFound(notFound);
  return app;
}

export async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code, message: body.error.message };
}
