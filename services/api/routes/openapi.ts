import { Hono } from 'hono';
import type { AppEnv } from '../types.ts';

/** `GET /api/openapi.json`: the API document, built once at start. Public (PUBLIC_API_ROUTES in app.ts): it holds no secrets. */
export function openapiRoutes(deps: { document: Record<string, unknown> }) {
  const body = JSON.stringify(deps.document);
  return new Hono<AppEnv>().get('/openapi.json', (c) => {
    c.header('content-type', 'application/json; charset=utf-8');
    c.header('cache-control', 'no-cache');
    c.header('access-control-allow-origin', '*');
    return c.body(body);
  });
}
