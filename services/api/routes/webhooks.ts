import { Hono } from 'hono';
import { z } from 'zod';
import { ServiceError } from '../../core/errors.ts';
import type { WebhookDispatcher } from '../../webhooks/WebhookDispatcher.ts';
import { WEBHOOK_EVENT_TYPES } from '../../webhooks/WebhookTypes.ts';
import { validateJson } from '../middleware/validateJson/index.ts';
import type { AppEnv } from '../types.ts';

/** `POST /api/webhooks` body. */
export const createWebhookBody = z
  .object({
    url: z.url({ protocol: /^https?$/ }).describe('Where events are POSTed.'),
    secret: z.string().min(16).max(256).optional().describe('HMAC-SHA256 secret for this endpoint. Default: WEBHOOK_SECRET.'),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).optional().describe('Event types it receives. Default: all.'),
  })
  .strict();

/** `GET /api/webhooks/deliveries` query. */
export const listDeliveriesQuery = z
  .object({
    room: z.string().min(1).max(64).optional().describe('Only this room.'),
    status: z.enum(['pending', 'delivered', 'failed']).optional(),
    event: z.string().min(1).max(64).optional().describe('Only this event id.'),
    limit: z.coerce.number().int().min(1).max(1000).default(100).describe('Newest first.'),
  })
  .strict();

export interface WebhookRoutesDeps {
  webhooks: Pick<WebhookDispatcher, 'addEndpoint' | 'listEndpoints' | 'removeEndpoint' | 'listDeliveries' | 'getDelivery' | 'retry' | 'stats'>;
}

/**
 * Webhook endpoints and deliveries under `/api/webhooks`, behind the API key (app.ts):
 *   POST   /webhooks                          → 201 endpoint (`secret` echoed once when given)
 *   GET    /webhooks                          → `{ endpoints, stats }`
 *   DELETE /webhooks/:id                      → 200; its pending deliveries fail (409 for WEBHOOK_URLS ones)
 *   GET    /webhooks/deliveries?room&status&event&limit → `{ deliveries }`, newest first
 *   GET    /webhooks/deliveries/:id           → one delivery
 *   POST   /webhooks/deliveries/:id/retry     → 202, due now (still after its room's earlier events)
 */
export function webhookRoutes(deps: WebhookRoutesDeps) {
  const { webhooks } = deps;
  return new Hono<AppEnv>()
    .get('/webhooks/deliveries', (c) => {
      const parsed = listDeliveriesQuery.safeParse(c.req.query());
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new ServiceError('bad_request', `invalid ${issue.path.join('.') || 'query'}: ${issue.message}`);
      }
      const { room, status, event, limit } = parsed.data;
      return c.json({ deliveries: webhooks.listDeliveries({ room, status, eventId: event, limit }) });
    })
    .get('/webhooks/deliveries/:id', (c) => {
      const delivery = webhooks.getDelivery(c.req.param('id'));
      if (!delivery) throw new ServiceError('not_found', 'no such delivery');
      return c.json(delivery);
    })
    .post('/webhooks/deliveries/:id/retry', (c) => c.json(webhooks.retry(c.req.param('id')), 202))
    .get('/webhooks', (c) => c.json({ endpoints: webhooks.listEndpoints(), stats: webhooks.stats() }))
    .post('/webhooks', validateJson(createWebhookBody), (c) => {
      const body = c.get('json');
      const endpoint = webhooks.addEndpoint(body);
      return c.json({ ...endpoint, ...(body.secret ? { secret: body.secret } : {}) }, 201);
    })
    .delete('/webhooks/:id', (c) => {
      webhooks.removeEndpoint(c.req.param('id'));
      return c.json({ id: c.req.param('id'), deleted: true });
    });
}
