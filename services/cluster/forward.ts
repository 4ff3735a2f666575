import type { Context } from 'hono';
import { ServiceError } from '../core/errors.ts';
import { CLUSTER_SECRET_HEADER } from './ClusterRouter.ts';
import type { NodeInfo } from './PlacementTypes.ts';

/** Longer than a blocking playlist reload may wait (3 target durations) and an engine's SDP answer. */
const FORWARD_TIMEOUT_MS = 15_000;

const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host', 'content-length'];

/**
 * Sends the request on to `node` with the cluster secret and gives back its answer as it is
 * (status, headers, streamed body). `body` replaces the request's own. A node that does not
 * answer is 503 `unavailable`: the client retries, and by then the room may be placed again.
 */
export async function forwardRequest(c: Context, node: NodeInfo, secret: string, body?: string): Promise<Response> {
  const incoming = new URL(c.req.url);
  const headers = new Headers(c.req.raw.headers);
  for (const name of HOP_BY_HOP) headers.delete(name);
  headers.set(CLUSTER_SECRET_HEADER, secret);
  const method = c.req.method;
  const init: RequestInit = { method, headers, redirect: 'manual', signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS) };
  if (body !== undefined) init.body = body;
  else if (method !== 'GET' && method !== 'HEAD') init.body = await c.req.arrayBuffer();
  let res: Response;
  try {
    res = await fetch(`${node.url}${incoming.pathname}${incoming.search}`, init);
  } catch {
    throw new ServiceError('unavailable', "the room's node did not answer; try again");
  }
  const out = new Headers(res.headers);
  for (const name of HOP_BY_HOP) if (name !== 'content-length') out.delete(name);
  // fetch decoded the body: its length and encoding no longer hold.
  if (out.has('content-encoding')) {
    out.delete('content-encoding');
    out.delete('content-length');
  }
  out.set('x-stagecast-node', node.id);
  return new Response(res.body, { status: res.status, headers: out });
}
