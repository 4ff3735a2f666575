import type { Context, MiddlewareHandler } from 'hono';
import { createRoomBody } from '../api/routes/rooms.ts';
import { ServiceError } from '../core/errors.ts';
import { logger } from '../core/logger.ts';
import { CLUSTER_SECRET_HEADER, ClusterRouter } from './ClusterRouter.ts';
import { forwardRequest } from './forward.ts';

const log = logger.child({ mod: 'cluster' });

/** `/api/rooms/:id…`, `/whip/:room…`, `/whep/:room…`, `/hls/:room/…`: the room a path is about. */
const ROOM_PATH = /^\/(api\/rooms|whip|whep|hls)\/([^/]+)(?:\/|$)/;

export interface ClusterRoutingOptions {
  router: ClusterRouter;
  secret: string;
  /** Summaries of this node's rooms, for `GET /api/rooms` across the cluster. */
  localRooms: () => unknown[];
  /**
   * Creates a room here and resolves with its summary (`POST /api/rooms` placed on this node),
   * with the private setting it was created with (absent: the default), as the local route.
   */
  createRoom: (roomId: string, settings: { private: boolean | undefined }) => Promise<unknown>;
}

/**
 * Any node answers any request (mounted after the API key check):
 *
 * - a request from another node (`x-stagecast-cluster-secret`) is served here; a wrong secret is
 *   403 `cluster_unauthorized`;
 * - `POST /api/rooms` places the room (least loaded live node) and creates it there, with the
 *   private setting it asked for;
 *   `GET /api/rooms` lists every live node's rooms;
 * - WHIP and WHEP offers and session DELETEs for a room on another node get `307` to the same
 *   path on that node (RFC 9725 §4.5): media goes straight to the owner's SFU;
 * - the rest of `/api/rooms/:id/…` and `/hls/:room/…` is forwarded to the owner and its answer
 *   passed back, so the URL a client knows never changes, even when the room moves.
 *
 * A room whose node vanished, or whose node is draining, is placed again by the first request
 * for it; a draining node forwards requests for its rooms like any other node. Unknown rooms fall
 * through to the local routes (404, or the origin's storage).
 */
export function clusterRouting(opts: ClusterRoutingOptions): MiddlewareHandler {
  const { router, secret } = opts;
  return async (c, next) => {
    const method = c.req.method;
    const path = c.req.path;
    const given = c.req.header(CLUSTER_SECRET_HEADER);
    if (given !== undefined) {
      router.assertPeer(given);
      // A peer's node list (half a heartbeat old) may not know yet that this node drains.
      if (router.self.draining && path === '/api/rooms' && method === 'POST') {
        throw new ServiceError('unavailable', 'this node is shutting down; try again');
      }
      const roomId = ROOM_PATH.exec(path)?.[2];
      if (roomId && ClusterRouter.isRoomId(roomId)) {
        // A peer's owner cache (1 s) may still name this draining node: not here any more.
        if (router.self.draining && (await router.route(roomId)).where === 'elsewhere') {
          throw new ServiceError('unavailable', 'the room is moving to another node; try again');
        }
        await router.materializeIfOwned(roomId);
      }
      return next();
    }
    if (path === '/api/rooms' && method === 'POST') return createRoom(c, next, opts);
    if (path === '/api/rooms' && method === 'GET') return c.json({ rooms: await listRooms(c, opts) });
    const match = ROOM_PATH.exec(path);
    const roomId = match?.[2];
    if (!match || !roomId || !ClusterRouter.isRoomId(roomId) || method === 'OPTIONS') return next();
    const route = await router.route(roomId);
    if (route.where !== 'elsewhere') return next();
    if (match[1] === 'whip' || match[1] === 'whep') {
      const url = new URL(c.req.url);
      return c.redirect(`${route.node.url}${url.pathname}${url.search}`, 307);
    }
    try {
      return await forwardRequest(c, route.node, secret);
    } catch (err) {
      router.forget(roomId);
      throw err;
    }
  };
}

/**
 * Placement happens before creation, so two nodes creating one id at once agree on where, and
 * a request for the room on another node right after the 201 finds it where it is.
 */
async function createRoom(c: Context, next: () => Promise<void>, opts: ClusterRoutingOptions): Promise<Response | void> {
  const body: unknown = await c.req.raw.clone().json().catch(() => undefined);
  // A body the route would refuse: its own validation answers (400).
  const parsed = createRoomBody.safeParse(body);
  if (!parsed.success) return next();
  const settings = parsed.data;
  const roomId = settings.id ?? ClusterRouter.newRoomId();
  const node = await opts.router.placement.place(roomId);
  if (node.id === opts.router.self.id) return c.json(await opts.createRoom(roomId, { private: settings.private }), 201);
  log.info({ room: roomId, node: node.id }, 'room placed on another node');
  return forwardRequest(c, node, opts.secret, JSON.stringify({ ...settings, id: roomId }));
}

async function listRooms(c: Context, opts: ClusterRoutingOptions): Promise<unknown[]> {
  const nodes = (await opts.router.placement.nodes()).filter((n) => n.id !== opts.router.self.id);
  const remote = await Promise.all(
    nodes.map(async (node) => {
      try {
        const res = await forwardRequest(c, node, opts.secret);
        return res.ok ? ((await res.json()) as { rooms: unknown[] }).rooms : [];
      } catch {
        return [];
      }
    }),
  );
  return [...opts.localRooms(), ...remote.flat()];
}
