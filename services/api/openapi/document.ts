import { z } from 'zod';
import { apiOperations, errorBody, type ApiOperation, type RequestSchemas } from './operations.ts';

export type { RequestSchemas } from './operations.ts';

/** `/api/rooms/:id` → `/api/rooms/{id}`; a trailing `*` becomes `{path}`. */
export function toOpenApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\/\*$/, '/{path}');
}

/** A request schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), as the client must send it. */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

function operationObject(op: ApiOperation): Record<string, unknown> {
  const path = toOpenApiPath(op.path);
  const parameters: Record<string, unknown>[] = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (op.query) {
    const q = jsonSchema(op.query) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      const { description, ...rest } = schema;
      parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema: rest, ...(description ? { description } : {}) });
    }
  }
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(op.responses)) {
    const isError = Number(status) >= 400;
    const content = r.type
      ? { [r.type]: { schema: { type: 'string' } } }
      : { 'application/json': { schema: isError ? { $ref: '#/components/schemas/Error' } : r.json ? jsonSchema(r.json) : { type: 'object' } } };
    responses[status] = { description: r.description, content };
  }
  if (op.auth !== 'none') {
    responses['401'] ??= { description: 'missing or invalid credentials', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  }
  const operation: Record<string, unknown> = {
    operationId: `${op.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: op.summary,
    tags: [op.tag],
    security: op.auth === 'none' ? [] : [{ [op.auth]: [] }],
    responses,
  };
  if (parameters.length) operation.parameters = parameters;
  if (op.body) {
    operation.requestBody =
      'sdp' in op.body
        ? { required: true, content: { 'application/sdp': { schema: { type: 'string' } } } }
        : { required: false, content: { 'application/json': { schema: jsonSchema(op.body.json) } } };
  }
  return operation;
}

/**
 * The OpenAPI 3.1 document of the HTTP API. Request bodies and queries are converted with
 * zod's `z.toJSONSchema` from the schemas the routes validate with.
 */
export function createOpenApiDocument(schemas: RequestSchemas, info: { version?: string; serverUrl?: string } = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of apiOperations(schemas)) {
    const path = toOpenApiPath(op.path);
    (paths[path] ??= {})[op.method] = operationObject(op);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'stagecast',
      version: info.version ?? '0.1.0',
      description: 'Interactive WebRTC stage and LL-HLS broadcast. Errors are `{ "error": { "code", "message" } }`. Webhooks: docs/webhooks.md.',
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API_KEY>' },
        roomToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A room token from POST /api/rooms/{id}/tokens' },
      },
      schemas: { Error: jsonSchema(errorBody) },
    },
  };
}
