import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startEdge, type RunningNginx } from './nginxEdge.ts';
import { startRedis, type RunningRedis } from './redis.ts';
import { startService, serviceClient, type RunningService, type ServiceClient } from './service.ts';

/** One node of a test cluster: the spawned service and REST helpers with the shared API key. */
export interface ClusterNode extends ServiceClient {
  id: string;
  svc: RunningService;
}

export interface TestCluster {
  nodes: ClusterNode[];
  apiKey: string;
  secret: string;
  /** Stops every node still running (SIGTERM). */
  close(): Promise<void>;
}

/**
 * `count` service processes on loopback sharing one Redis, API key, JWT secret and cluster
 * secret; each has its own HTTP port, media and mirror port ranges and data directory. Node i
 * is `node-<letter>`.
 */
export async function startCluster(redisUrl: string, count: number, env: Record<string, string> = {}): Promise<TestCluster> {
  const apiKey = `test_${randomBytes(16).toString('hex')}`;
  const jwtSecret = randomBytes(32).toString('hex');
  const secret = randomBytes(24).toString('hex');
  const nodes: ClusterNode[] = [];
  const close = async () => {
    await Promise.all(nodes.map((n) => n.svc.stop()));
  };
  try {
    for (let i = 0; i < count; i++) {
      const id = `node-${String.fromCharCode(97 + i)}`;
      const svc = await startService(
        {
          REDIS_URL: redisUrl,
          CLUSTER_SECRET: secret,
          NODE_ID: id,
          API_KEY: apiKey,
          JWT_SECRET: jwtSecret,
          MEDIA_PORT_RANGE: `${40000 + 1000 * i}-${40999 + 1000 * i}`,
          MIRROR_PORT_RANGE: `${51000 + 200 * i}-${51199 + 200 * i}`,
          ...env,
        },
        // Three processes booting on a busy 2-core machine: more time than one.
        { engine: 'embedded', startTimeoutMs: 45000 },
      );
      nodes.push({ id, svc, ...serviceClient(svc.url, apiKey) });
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { nodes, apiKey, secret, close };
}

/** Where a POST to a WHIP/WHEP URL ended after following redirects as RFC 9725 clients do (resending the token). */
export interface IngestOutcome {
  /** Status of each response, first to last. */
  statuses: number[];
  /** Each redirect's Location. */
  redirects: string[];
  final: Response;
  finalUrl: string;
}

/**
 * POSTs an SDP offer, following 307s by hand: fetch drops `Authorization` on a cross-origin
 * redirect (as browsers do), so a WHIP client resends its token to the new URL itself.
 */
export async function postIngest(url: string, token: string, sdp: string): Promise<IngestOutcome> {
  const statuses: number[] = [];
  const redirects: string[] = [];
  let target = url;
  for (let hop = 0; hop < 4; hop++) {
    const res = await fetch(target, { method: 'POST', redirect: 'manual', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/sdp' }, body: sdp });
    statuses.push(res.status);
    if (res.status !== 307) return { statuses, redirects, final: res, finalUrl: target };
    await res.arrayBuffer();
    const location = new URL(res.headers.get('location')!, target).toString();
    redirects.push(location);
    target = location;
  }
  throw new Error(`too many redirects: ${redirects.join(' → ')}`);
}

/** How a signaling join through one node ended. */
export interface JoinOutcome {
  /** `redirect` URLs received, in order. */
  redirects: string[];
  /** The WebSocket close code of each redirected socket. */
  redirectCloseCodes: number[];
  /** HTTP status of a refused upgrade, if the last attempt was refused. */
  refused?: number;
  joined: boolean;
  /** The `joined` message, when it joined. */
  joinedMessage?: { role: string; chat?: { messages: { text: string }[]; muted: boolean } };
}

/** Opens `/ws` on `baseUrl` with `token` (and `room`), sends `join` and follows `redirect` messages, as the player does. */
export async function joinThrough(baseUrl: string, token: string, room?: string): Promise<JoinOutcome> {
  const outcome: JoinOutcome = { redirects: [], redirectCloseCodes: [], joined: false };
  let target = `${baseUrl.replace(/^http/, 'ws')}/ws`;
  for (let hop = 0; hop < 4; hop++) {
    const url = new URL(target);
    url.searchParams.set('token', token);
    if (room) url.searchParams.set('room', room);
    const step = await new Promise<{ refused?: number; redirect?: string; closeCode?: number; joined?: JoinOutcome['joinedMessage'] }>((resolve, reject) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`no answer from ${target}`));
      }, 10000);
      let redirect: string | undefined;
      ws.on('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        res.resume();
        resolve({ refused: res.statusCode ?? 0 });
        ws.terminate();
      });
      ws.on('error', () => {});
      ws.on('open', () => ws.send(JSON.stringify({ v: 1, type: 'join', id: '1' })));
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { type: string; url?: string };
        if (msg.type === 'redirect') redirect = msg.url;
        else if (msg.type === 'joined') {
          clearTimeout(timer);
          resolve({ joined: msg as unknown as JoinOutcome['joinedMessage'] });
          ws.close();
        }
      });
      ws.on('close', (code) => {
        clearTimeout(timer);
        resolve(redirect ? { redirect, closeCode: code } : { refused: code });
      });
    });
    if (step.redirect) {
      outcome.redirects.push(step.redirect);
      outcome.redirectCloseCodes.push(step.closeCode ?? 0);
      target = step.redirect;
      continue;
    }
    if (step.refused !== undefined) outcome.refused = step.refused;
    outcome.joined = step.joined !== undefined;
    if (step.joined) outcome.joinedMessage = step.joined;
    return outcome;
  }
  throw new Error(`too many redirects: ${outcome.redirects.join(' → ')}`);
}

/** A cluster as a deployment runs it, for the end-to-end tests: Redis, the nodes, an edge in front. */
export interface EdgedCluster {
  redis: RunningRedis;
  cluster: TestCluster;
  edge: RunningNginx;
  /** The edge's base URL, what clients are given. */
  edgeUrl: string;
  /** Stops the edge, the nodes and Redis, and removes the edge's folder. Idempotent. */
  close(): Promise<void>;
}

/** A real redis-server, `count` nodes sharing it, and a real nginx edge (infra/nginx/edge.conf) whose upstreams are the nodes. */
export async function startEdgedCluster(count: number, env: Record<string, string>): Promise<EdgedCluster> {
  const redis = await startRedis();
  let cluster: TestCluster | undefined;
  let edge: RunningNginx | undefined;
  const dir = await mkdtemp(join(tmpdir(), 'stagecast-cluster-edge-'));
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await edge?.close();
      await rm(dir, { recursive: true, force: true });
      await cluster?.close();
      await redis.close();
    })());
  try {
    cluster = await startCluster(redis.url, count, env);
    edge = await startEdge({ upstreams: cluster.nodes.map((n) => new URL(n.url).host), dir });
  } catch (err) {
    await close();
    throw err;
  }
  return { redis, cluster, edge, edgeUrl: `http://127.0.0.1:${edge.port}`, close };
}

/**
 * After its owner went (killed or drained): the room answers again through `via`, is placed on
 * one of `live`, and `publisher` publishes there. Returns the new owner's id.
 */
export async function assertRoomBackOnLiveNode(via: ClusterNode, live: ClusterNode[], room: string, publisher: string): Promise<string> {
  const res = await via.api(`/api/rooms/${room}`);
  assert.equal(res.status, 200, 'the room answers again');
  const newOwner = res.headers.get('x-stagecast-node') ?? via.id;
  assert.ok(live.some((n) => n.id === newOwner), `placed on a live node (${newOwner})`);
  const details = (await res.json()) as { members: { identity: string; publishing: boolean }[] };
  assert.ok(details.members.some((m) => m.identity === publisher && m.publishing), `${publisher} publishes on the new owner`);
  return newOwner;
}
