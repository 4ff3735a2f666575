// Child process of bench/origin-load.ts: simulated LL-HLS viewers over keep-alive HTTP/1.1,
// one connection each, as a player holds one. Blocking mode (our origin): reload the playlist
// for the next part (_HLS_msn/_HLS_part, as hls.js does in low-latency mode), then fetch that
// part, and again. Polling mode (nginx, which cannot block): reload the playlist every part
// target and fetch the parts it has not seen. Reports every response time against the
// (msn, part) it was for; the parent matches them to publication times.
import { Agent, request } from 'node:http';
import type { ViewerReply, ViewerRun } from './origin-load.protocol.ts';

const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
const REQUEST_TIMEOUT_MS = 10_000;

interface Listed {
  msn: number;
  index: number;
  uri: string;
}

/** The parts a media playlist lists, oldest first, with the (msn, index) of each. */
function listedParts(text: string): Listed[] {
  const out: Listed[] = [];
  let msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? NaN);
  let index = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PART:')) {
      out.push({ msn, index: index++, uri: /URI="([^"]+)"/.exec(line)![1]! });
    } else if (line.length > 0 && !line.startsWith('#')) {
      msn++;
      index = 0;
    }
  }
  return out;
}

const after = (a: { msn: number; index: number }, b: { msn: number; index: number }) => a.msn > b.msn || (a.msn === b.msn && a.index > b.index);

function get(agent: Agent, port: number, path: string): Promise<{ status: number; body: Buffer; at: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), at: wallNow() }));
      res.on('error', reject);
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function run(cfg: ViewerRun): Promise<ViewerReply> {
  const result: ViewerReply = { op: 'done', requests: 0, errors: {}, releases: [], parts: [] };
  const inWindow = (t: number) => t >= cfg.windowStart && t < cfg.windowEnd;
  const dir = cfg.playlistPath.slice(0, cfg.playlistPath.lastIndexOf('/') + 1);
  const fail = (kind: string, at: number) => {
    if (inWindow(at)) result.errors[kind] = (result.errors[kind] ?? 0) + 1;
  };
  /** One request; counts it when it ends in the window. Undefined (and an error counted) unless 200. */
  const fetchOk = async (agent: Agent, path: string): Promise<{ body: Buffer; at: number } | undefined> => {
    try {
      const res = await get(agent, cfg.port, path);
      if (inWindow(res.at)) result.requests++;
      if (res.status !== 200) {
        fail(`HTTP ${res.status}`, res.at);
        return undefined;
      }
      return res;
    } catch (err) {
      const at = wallNow();
      if (inWindow(at)) result.requests++;
      fail(err instanceof Error ? err.message : String(err), at);
      return undefined;
    }
  };

  const blockingViewer = async (agent: Agent) => {
    let newest: Listed | undefined;
    while (wallNow() < cfg.windowEnd) {
      if (!newest) {
        const first = await fetchOk(agent, cfg.playlistPath);
        newest = first ? listedParts(first.body.toString()).at(-1) : undefined;
        if (!newest) await sleep(cfg.partTargetMs);
        continue;
      }
      const want = { msn: newest.msn, index: newest.index + 1 };
      const res = await fetchOk(agent, `${cfg.playlistPath}?_HLS_msn=${want.msn}&_HLS_part=${want.index}`);
      if (!res) {
        newest = undefined; // start over from a plain reload, as a player recovers
        await sleep(cfg.partTargetMs);
        continue;
      }
      if (inWindow(res.at)) result.releases.push(want.msn, want.index, res.at);
      const listed = listedParts(res.body.toString());
      const part = listed.find((p) => !after(want, p)) ?? listed.at(-1);
      newest = listed.at(-1);
      if (!part) continue;
      const media = await fetchOk(agent, dir + part.uri);
      if (media && inWindow(media.at)) result.parts.push(want.msn, want.index, media.at);
    }
  };

  const pollingViewer = async (agent: Agent, phase: number) => {
    let seen: Listed | undefined;
    let next = wallNow() + phase;
    while (wallNow() < cfg.windowEnd) {
      await sleep(next - wallNow());
      next += cfg.partTargetMs;
      const res = await fetchOk(agent, cfg.playlistPath);
      if (!res) continue;
      const listed = listedParts(res.body.toString());
      const fresh = seen ? listed.filter((p) => after(p, seen!)) : listed.slice(-1);
      if (fresh.length === 0) continue;
      const newestFresh = fresh.at(-1)!;
      if (inWindow(res.at)) result.releases.push(newestFresh.msn, newestFresh.index, res.at);
      seen = newestFresh;
      for (const p of fresh) {
        const media = await fetchOk(agent, dir + p.uri);
        if (media && inWindow(media.at)) result.parts.push(p.msn, p.index, media.at);
      }
    }
  };

  const agents: Agent[] = [];
  const viewers: Promise<void>[] = [];
  for (let i = 0; i < cfg.viewers; i++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    const delay = (cfg.rampMs * i) / cfg.viewers;
    viewers.push(
      sleep(delay).then(() => (cfg.mode === 'blocking' ? blockingViewer(agent) : pollingViewer(agent, Math.random() * cfg.partTargetMs))),
    );
  }
  await Promise.all(viewers);
  for (const agent of agents) agent.destroy();
  const usage = process.cpuUsage();
  result.cpuMicros = usage.user + usage.system;
  return result;
}

process.on('message', (msg: ViewerRun) => {
  void run(msg).then((result) => process.send!(result, () => process.exit(0)));
});
process.send!({ op: 'ready' });
