import { Hono } from 'hono';
import type { ServiceMetrics } from '../../metrics/ServiceMetrics.ts';
import { apiKeyAuth } from '../middleware/apiKey/index.ts';
import type { AppEnv } from '../types.ts';

export interface MetricsRoutesDeps {
  metrics: Pick<ServiceMetrics, 'render' | 'contentType'>;
  apiKey: string;
  /** Serve /metrics without the API key (scraping from a private network). Config: METRICS_PUBLIC. */
  public?: boolean;
}

/** `GET /metrics`: Prometheus text format. Behind the API key unless `public` (METRICS_PUBLIC=true). */
export function metricsRoutes(deps: MetricsRoutesDeps) {
  const app = new Hono<AppEnv>();
  if (!deps.public) app.use('/metrics', apiKeyAuth(deps.apiKey));
  return app.get('/metrics', async (c) => {
    const body = await deps.metrics.render();
    c.header('content-type', deps.metrics.contentType);
    c.header('cache-control', 'no-store');
    return c.body(body);
  });
}
