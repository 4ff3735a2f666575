import { createServer, type Server } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { createLiveLane, type LiveLaneOptions } from '../../services/origin/index.ts';

/**
 * An origin app on a free loopback port, wired as the service wires it: the live lane first
 * (services/origin/liveLane.ts), the app for everything the lane leaves.
 */
export async function listenWithLane(fetch: (req: Request, env: unknown) => Response | Promise<Response>, lane: LiveLaneOptions): Promise<{ server: Server; port: number }> {
  const fast = createLiveLane(lane);
  const app = getRequestListener(fetch);
  const server = createServer((req, res) => void (fast(req, res) || app(req, res)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}
