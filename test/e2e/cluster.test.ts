import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { launchChromium, type LaunchedChromium } from '../support/chromium.ts';
import { assertRoomBackOnLiveNode, joinThrough, postIngest, startEdgedCluster, type ClusterNode, type EdgedCluster, type TestCluster } from '../support/cluster.ts';
import { probeOf, resetStall, startHlsProbe } from '../support/hlsProbe.ts';
import { nginxMissing } from '../support/nginxEdge.ts';
import { clickGoLive } from '../support/pages.ts';
import { redisUnavailable } from '../support/redis.ts';
import { installRtcHelpers, type RtcFns } from '../support/rtcPage.ts';
import { peerReport } from '../support/whip.ts';
import { waitFor } from '../support/wait.ts';
import { connectClient, type JoinedClient } from '../support/wsClient.ts';

/**
 * Three nodes on loopback sharing a real redis-server: a room lives on one node and every node
 * answers for it. A plain RTCPeerConnection page publishes over WHIP to a node that does not
 * host the room and follows the 307 to the owner; a studio page on that node goes live through
 * a signaling redirect; a stage member subscribes over signaling on the third node; an hls.js
 * page plays the broadcast through a real nginx edge (infra/nginx/edge.conf) whose upstreams are
 * the three nodes, and a node that does not host the room proxies it from the owner. Cluster-wide rules
 * (blocks, token rooms, the node-to-node secret) are checked on every node. Then the owner is
 * SIGKILLed: the room is placed on a live node, the studio joins again and republishes on its
 * own, a stage member's watch page joins again and shows the stage, and HLS plays again under
 * the same URL; the outage is measured and bounded. What the room carried comes back with it:
 * privacy, blocks, chat history and mutes, a promoted guest.
 */

const ROOM = 'stage';
/**
 * Heartbeat 250 ms, a node is gone 1.5 s after its last one. The promoted guest is checked
 * after the HLS outage (bounded at 45 s below): its grant must outlast that.
 */
const CLUSTER_ENV = { CLUSTER_HEARTBEAT_MS: '250', CLUSTER_NODE_TTL_MS: '1500', STAGE_ROLE_GRACE_MS: '180000' };
/**
 * The outage (owner killed → HLS playing new media again) this test accepts, ms. Measured on
 * the 2-core machine: 9.6 s when it was quiet, 24 s under a load average of 20 (other
 * engineers' Chromium runs); most of it is the new node's ffmpeg start and hls.js's reloads.
 */
const MAX_OUTAGE_MS = 45_000;

type MemberWindow = { __watch: { tiles(): Promise<{ framesDecoded: number }[]>; rejoins: number }; __mark?: string };

describe('cluster: three nodes, one Redis, an nginx edge', { skip: redisUnavailable() ?? nginxMissing() }, () => {
  let deployment: EdgedCluster | undefined;
  let cluster: TestCluster;
  let chromium: LaunchedChromium;
  let edgeUrl: string;
  let owner: ClusterNode;
  /** The two nodes that do not host the room: entry points of every page. */
  let entry: [ClusterNode, ClusterNode];
  const pages: Page[] = [];
  const pageErrors: string[] = [];
  let studio: Page;
  let hlsPage: Page;
  /** A viewer on the owner that a moderator promoted to guest before the kill. */
  let promoted: JoinedClient | undefined;

  const newPage = async (label: string): Promise<Page> => {
    const page = await chromium.context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
    pages.push(page);
    return page;
  };

  before(async () => {
    deployment = await startEdgedCluster(3, CLUSTER_ENV);
    ({ cluster, edgeUrl } = deployment);
    chromium = await launchChromium();
  });
  after(async () => {
    promoted?.ws.terminate();
    for (const page of pages) await page.close().catch(() => {});
    await chromium?.close();
    await deployment?.close();
  });

  it('a room created through the first node is placed on one node, and every node answers for it', async () => {
    const [a] = cluster.nodes;
    assert.equal(await a!.createRoom(ROOM), ROOM);
    const answers = await Promise.all(
      cluster.nodes.map(async (node) => {
        const res = await node.api(`/api/rooms/${ROOM}`);
        assert.equal(res.status, 200, `GET /api/rooms/${ROOM} on ${node.id}`);
        assert.equal(((await res.json()) as { id: string }).id, ROOM);
        return res.headers.get('x-stagecast-node');
      }),
    );
    // Forwarded answers name the owner; the owner's own answer names nobody.
    const ownerIds = new Set(answers.filter(Boolean));
    assert.equal(ownerIds.size, 1, `one owner named by the forwarding nodes: ${JSON.stringify(answers)}`);
    owner = cluster.nodes.find((n) => n.id === [...ownerIds][0])!;
    assert.equal(answers[cluster.nodes.indexOf(owner)], null, 'the owner answers itself');
    entry = cluster.nodes.filter((n) => n !== owner) as [ClusterNode, ClusterNode];
    const listed = (await (await entry[1].api('/api/rooms')).json()) as { rooms: { id: string }[] };
    assert.ok(listed.rooms.some((r) => r.id === ROOM), 'GET /api/rooms on any node lists every node\'s rooms');
    const again = await entry[0].api('/api/rooms', { method: 'POST', body: JSON.stringify({ id: ROOM }) });
    assert.equal(again.status, 409, 'creating it again through another node is a conflict');
    console.log(`# owner ${owner.id}, entries ${entry.map((n) => n.id).join(', ')}`);
  });

  it('WHIP to a node that does not host the room is redirected (307) to the owner, and media reaches the owner', async () => {
    const token = await entry[0].token(ROOM, 'whip-pub', 'presenter');
    const page = await newPage('whip');
    await page.goto(`${entry[0].url}/healthz`);
    await installRtcHelpers(page);
    const sdp = await page.evaluate(() => (window as unknown as RtcFns).__startPublisher({ iceServers: [] }, 8000));
    const outcome = await postIngest(`${entry[0].url}/whip/${ROOM}`, token, sdp);
    assert.deepEqual(outcome.statuses, [307, 201], `statuses ${outcome.statuses}`);
    assert.equal(outcome.redirects[0], `${owner.url}/whip/${ROOM}`, 'redirected to the same path on the owner');
    const answer = await outcome.final.text();
    assert.ok(answer.includes(`c=IN IP4 127.0.0.1`) || answer.includes('a=candidate:'), 'an SDP answer');
    await page.evaluate((a) => (window as unknown as Record<string, RTCPeerConnection>).__pub!.setRemoteDescription({ type: 'answer', sdp: a }), answer);
    await waitFor('the WHIP publisher to connect to the owner', 20000, () => peerReport(page, 'pub'), { until: (r) => r.connectionState === 'connected' });
  });

  it('a studio page on a non-owner goes live through a signaling redirect', async () => {
    const token = await entry[0].token(ROOM, 'studio-pub', 'presenter');
    studio = await newPage('studio');
    await studio.goto(`${entry[0].url}/studio?room=${ROOM}&token=${encodeURIComponent(token)}`);
    await clickGoLive(studio);
    await waitFor('the studio to go live', 30000, () => studio.evaluate(() => (window as unknown as { __studio: { state: string } }).__studio.state), { until: (s) => s === 'live' });
  });

  it('a stage member subscribes over signaling on the third node: redirected to the owner, frames decode', async () => {
    const token = await entry[1].token(ROOM, 'member', 'moderator');
    const joined = await joinThrough(entry[1].url, token);
    assert.deepEqual(joined.redirects, [`${owner.url.replace(/^http/, 'ws')}/ws`], 'one redirect, to the owner\'s /ws');
    assert.deepEqual(joined.redirectCloseCodes, [4302]);
    assert.equal(joined.joined, true, 'joined on the owner');
    const watch = await newPage('watch');
    await watch.goto(`${entry[1].url}/watch?room=${ROOM}&token=${encodeURIComponent(await entry[1].token(ROOM, 'member-page', 'moderator'))}`);
    await waitFor('the stage member to decode the stage', 45000, () =>
      watch.evaluate(() => (window as unknown as { __watch: { tiles(): Promise<{ framesDecoded: number }[]> } }).__watch.tiles()),
      { until: (tiles) => tiles.length >= 1 && tiles.some((t) => t.framesDecoded > 10), stepMs: 500 });
    // Shown; now out of the way of the CPU the rest needs (three nodes, ffmpeg, Chromium on 2 cores).
    await watch.close();
  });

  it('an hls.js page plays the broadcast through the nginx edge in front of every node; a node that does not host the room proxies it', async () => {
    const direct = await fetch(`${entry[0].url}/hls/${ROOM}/index.m3u8`);
    assert.equal(direct.status, 200, 'the multivariant playlist through a non-owner');
    assert.equal(direct.headers.get('x-stagecast-node'), owner.id, 'proxied from the owner');
    hlsPage = await newPage('hls');
    await hlsPage.goto(`${edgeUrl}/healthz`);
    await startHlsProbe(hlsPage, `${edgeUrl}/hls/${ROOM}/index.m3u8`);
    await waitFor('HLS to play 3 s through the edge', 90000, () => probeOf(hlsPage), { until: (p) => p.progressed >= 3, stepMs: 500 });
  });

  it('cluster-wide rules: a blocked identity, a token for another room and a wrong cluster secret are refused on every node', async () => {
    const block = await entry[1].api(`/api/rooms/${ROOM}/blocks`, { method: 'POST', body: JSON.stringify({ identity: 'mallory' }) });
    assert.equal(block.status, 201, 'blocked through a non-owner (forwarded)');
    const mallory = await entry[0].token(ROOM, 'mallory', 'presenter');
    assert.equal(await entry[1].createRoom('other'), 'other');
    const forOther = await entry[0].token(ROOM, 'carol', 'presenter');
    const offer = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
    for (const node of cluster.nodes) {
      const blockedWhip = await postIngest(`${node.url}/whip/${ROOM}`, mallory, offer);
      assert.equal(blockedWhip.final.status, 403, `blocked identity over WHIP via ${node.id}: ${blockedWhip.statuses}`);
      const blockedWs = await joinThrough(node.url, mallory);
      assert.equal(blockedWs.refused, 403, `blocked identity over signaling via ${node.id}: ${JSON.stringify(blockedWs)}`);
      const wrongRoomWs = await joinThrough(node.url, forOther, 'other');
      assert.equal(wrongRoomWs.refused, 403, `token for ${ROOM} used for other over signaling via ${node.id}: ${JSON.stringify(wrongRoomWs)}`);
      const wrongRoomWhip = await postIngest(`${node.url}/whip/other`, forOther, offer);
      assert.equal(wrongRoomWhip.final.status, 403, `token for ${ROOM} used for other over WHIP via ${node.id}: ${wrongRoomWhip.statuses}`);
      for (const path of [`/api/rooms/${ROOM}`, `/hls/${ROOM}/index.m3u8`]) {
        const res = await node.api(path, { headers: { 'x-stagecast-cluster-secret': 'not-the-cluster-secret' } });
        assert.equal(res.status, 403, `wrong cluster secret on ${node.id}${path}`);
        assert.deepEqual(((await res.json()) as { error: { code: string } }).error.code, 'cluster_unauthorized');
      }
    }
  });

  it('a private room created through any node is placed before its 201 (on the least loaded node), and every node answers for it at once, private', async () => {
    // Through the owner, the most loaded node (it hosts the live stage): placed elsewhere.
    const res = await owner.api('/api/rooms', { method: 'POST', body: JSON.stringify({ id: 'sealed', private: true }) });
    assert.equal(res.status, 201);
    assert.equal(((await res.json()) as { private?: boolean }).private, true, 'the answer says private');
    const servedBy = (await owner.api('/api/rooms/sealed')).headers.get('x-stagecast-node');
    assert.ok(servedBy && servedBy !== owner.id, `placed on a less loaded node, not created where the POST landed (served by ${servedBy ?? 'the owner itself'})`);
    for (const node of cluster.nodes) {
      assert.equal((await node.api('/hls/sealed/index.m3u8')).status, 401, `its HLS needs a playback token via ${node.id}`);
      const got = await node.api('/api/rooms/sealed');
      assert.equal(got.status, 200);
      assert.equal(((await got.json()) as { private?: boolean }).private, true, `private via ${node.id}`);
    }
    assert.equal((await entry[0].api('/api/rooms/sealed', { method: 'DELETE' })).status, 200);
  });

  it('chat and promotions through any node: history, a deleted message, a chat mute, a viewer promoted to guest', async () => {
    const chat = (body: unknown, path = '') => entry[1].api(`/api/rooms/${ROOM}/chat${path}`, { method: 'POST', body: JSON.stringify(body) });
    assert.equal((await chat({ text: 'kept across the failover' })).status, 201);
    const doomed = (await (await chat({ text: 'deleted before the failover' })).json()) as { message: { id: string } };
    assert.equal((await entry[0].api(`/api/rooms/${ROOM}/chat/messages/${doomed.message.id}`, { method: 'DELETE' })).status, 200);
    assert.equal((await chat({ identity: 'loud' }, '/mutes')).status, 201);
    promoted = await connectClient(owner.url, await entry[0].token(ROOM, 'vic', 'viewer'), { join: true, label: 'vic' });
    const promote = await entry[1].api(`/api/rooms/${ROOM}/participants/${promoted.pid}/promote`, { method: 'POST' });
    assert.equal(promote.status, 200, 'promoted through a non-owner (forwarded)');
    assert.equal(((await promote.json()) as { participant: { role: string } }).participant.role, 'guest');
    await promoted.next((m) => m.type === 'roleChanged' && m.role === 'guest');
  });

  it('the owner is SIGKILLed: the room comes back on a live node, the studio republishes on its own, HLS plays again under the same URL', async () => {
    // A stage member on the third node's page, decoding the studio; marked, so a reload would show.
    const member = await newPage('member');
    await member.goto(`${entry[1].url}/watch?room=${ROOM}&token=${encodeURIComponent(await entry[1].token(ROOM, 'member-on-stage', 'moderator'))}`);
    const memberFrames = () => member.evaluate(() => (window as unknown as MemberWindow).__watch.tiles()).then((tiles) => tiles.reduce((n, t) => n + t.framesDecoded, 0));
    await waitFor('the stage member to decode the studio', 45000, memberFrames, { until: (n) => n > 10, stepMs: 500 });
    await member.evaluate(() => ((window as unknown as MemberWindow).__mark = 'before-kill'));
    // Every 100 ms from now on: does the stage show a picture (a tile with a frame, or the
    // still of the old stage the page keeps up while it joins again)?
    await member.evaluate(() => {
      const shown: { at: number; picture: boolean }[] = [];
      (window as unknown as { __shown: typeof shown }).__shown = shown;
      setInterval(() => {
        const tiles = [...document.querySelectorAll<HTMLVideoElement>('#stage [data-testid="tile"]')].some((v) => v.videoWidth > 0 && v.readyState >= 2);
        const still = [...document.querySelectorAll<HTMLCanvasElement>('[data-testid="stage-poster"] canvas')].some((c) => c.width > 0);
        shown.push({ at: Date.now(), picture: tiles || still });
      }, 100);
    });
    const reconnectsBefore = await studio.evaluate(() => (window as unknown as { __studio: { reconnects: number } }).__studio.reconnects);
    // What the room must carry to its next node: a private sibling room on the same owner, the
    // block on mallory (the rules test), and the HLS numbering of the live broadcast.
    // Created through the node-to-node path, so that it lives on the owner: through the public
    // API the room would be placed on the least loaded node, which the owner is not.
    const hidden = await owner.api('/api/rooms', { method: 'POST', headers: { 'x-stagecast-cluster-secret': cluster.secret }, body: JSON.stringify({ id: 'hidden', private: true }) });
    assert.equal(hidden.status, 201, 'a private room on the owner');
    // The owner claims the room in Redis just after creating it: the other nodes see it then.
    await waitFor('its HLS to need a playback token through another node', 10_000, async () => (await entry[0].api('/hls/hidden/index.m3u8')).status, { until: (s) => s === 401 });
    const numberingBefore = await mediaNumbering(entry[0].url);
    // The HLS reading the outage is measured from: the last one before the kill (the steps above take seconds).
    const before = await probeOf(hlsPage);
    // The longest stall counts from the kill on, not a stall that began before it.
    await resetStall(hlsPage);
    const killedAt = Date.now();
    owner.svc.child.kill('SIGKILL');

    await waitFor('the studio to join again and publish', 40000, () =>
      studio.evaluate(() => (window as unknown as { __studio: { state: string; reconnects: number } }).__studio), {
      until: (s) => s.state === 'live' && s.reconnects > reconnectsBefore,
      stepMs: 250,
    });
    const republishedMs = Date.now() - killedAt;
    const newOwner = await assertRoomBackOnLiveNode(entry[1], entry, ROOM, 'studio-pub');

    // New media played: more than what was buffered at the kill, plus 3 s.
    const needed = before.progressed + before.bufferAhead + 3;
    const after = await waitFor('HLS to play again under the same URL', MAX_OUTAGE_MS, () => probeOf(hlsPage), { until: (p) => p.progressed >= needed, stepMs: 250, throwOnTimeout: false });
    const resumedMs = Date.now() - killedAt;
    assert.ok(after.progressed >= needed, `HLS played again: ${after.progressed.toFixed(1)} s of ${needed.toFixed(1)} s (playhead ${after.currentTime.toFixed(1)} s, ${after.bufferAhead.toFixed(1)} s buffered ahead); fatal errors ${after.fatals.join(', ')}; other errors ${after.errors.join(', ')}`);
    const playlist = await fetch(`${edgeUrl}/hls/${ROOM}/index.m3u8`);
    assert.equal(playlist.status, 200, 'the same multivariant URL, through the edge, serves the new broadcast');
    console.log(
      `# failover: studio republished ${(republishedMs / 1000).toFixed(1)} s after SIGKILL; HLS playing new media by ${(resumedMs / 1000).toFixed(1)} s; ` +
        `longest playhead stall ${(after.maxGapMs / 1000).toFixed(1)} s; hls.js reloads ${after.loads - before.loads} (fatal: ${after.fatals.join(', ') || 'none'}), jumps to the live position ${after.resyncs - before.resyncs}; new owner ${newOwner}`,
    );
    assert.ok(resumedMs < MAX_OUTAGE_MS, `HLS played new media ${resumedMs} ms after the kill (bound ${MAX_OUTAGE_MS})`);
    // The stage member joined again on its own and decodes the studio anew, without a reload.
    await waitFor('the stage member to join again', 40000, () => member.evaluate(() => (window as unknown as MemberWindow).__watch.rejoins), { until: (n) => n >= 1, stepMs: 250 });
    await waitFor('the stage member to decode the studio again', 30000, memberFrames, { until: (n) => n > 10, stepMs: 500 });
    console.log(`# failover: the stage member's page decoded the studio again ${((Date.now() - killedAt) / 1000).toFixed(1)} s after SIGKILL (measured after the HLS wait)`);
    assert.equal(await member.evaluate(() => (window as unknown as MemberWindow).__mark), 'before-kill', 'the watch page was not reloaded');
    // Never without a picture while it joined again: the longest run of samples with none.
    const shown = await member.evaluate(() => (window as unknown as { __shown: { at: number; picture: boolean }[] }).__shown);
    let blankMs = 0;
    let blankSince: number | undefined;
    for (const s of shown.filter((x) => x.at >= killedAt)) {
      if (!s.picture) blankSince ??= s.at;
      else if (blankSince !== undefined) {
        blankMs = Math.max(blankMs, s.at - blankSince);
        blankSince = undefined;
      }
    }
    if (blankSince !== undefined) blankMs = Math.max(blankMs, shown.at(-1)!.at - blankSince);
    console.log(`# failover: the stage member's page showed no picture for at most ${blankMs} ms (${shown.length} samples)`);
    assert.ok(blankMs < 1000, `the stage member's page showed no picture for ${blankMs} ms while it joined again`);
    await waitFor('the stage member\'s status', 10000, () => member.locator('[data-testid="status"]').textContent(), { until: (s) => s === 'watching' });
    await member.close();
    // The new broadcast carries the numbering on: later sequence numbers, after a discontinuity.
    const numberingAfter = await mediaNumbering(entry[0].url);
    assert.ok(numberingAfter.firstMsn > numberingBefore.lastMsn, `sequence numbers go on: ${numberingBefore.lastMsn} before the kill, ${numberingAfter.firstMsn}.. after`);
    assert.ok(numberingAfter.discontinuitySequence > numberingBefore.discontinuitySequence || numberingAfter.discontinuities > 0, 'with a discontinuity');
    // The private room stays private and mallory stays out, through every node.
    for (const node of entry) {
      assert.equal((await node.api('/hls/hidden/index.m3u8')).status, 401, `the private room needs a token via ${node.id} after the failover`);
      const mallory = await node.token(ROOM, 'mallory', 'presenter');
      assert.equal((await joinThrough(node.url, mallory)).refused, 403, `mallory is still blocked via ${node.id}`);
    }
    // The chat history and mute, and the promotion, came along: a late joiner sees the same
    // history, the muted identity is muted, the promoted viewer comes back a guest.
    assert.equal((await promoted!.closed).code, 1006, 'the promoted viewer lost its owner');
    const late = await joinThrough(entry[0].url, await entry[0].token(ROOM, 'late', 'viewer'));
    const loud = await joinThrough(entry[1].url, await entry[1].token(ROOM, 'loud', 'viewer'));
    const vic = await joinThrough(entry[1].url, await entry[1].token(ROOM, 'vic', 'viewer'));
    assert.deepEqual(
      {
        history: late.joinedMessage?.chat?.messages.map((m) => m.text),
        lateMuted: late.joinedMessage?.chat?.muted,
        loudMuted: loud.joinedMessage?.chat?.muted,
        vicRole: vic.joinedMessage?.role,
      },
      { history: ['kept across the failover'], lateMuted: false, loudMuted: true, vicRole: 'guest' },
      'what the room carried to its new owner',
    );
    assert.deepEqual(pageErrors, [], 'no page errors');
  });
});

/** The first listed and last media sequence numbers of the room's first rendition, and its discontinuities. */
async function mediaNumbering(base: string): Promise<{ firstMsn: number; lastMsn: number; discontinuitySequence: number; discontinuities: number }> {
  const multivariant = await (await fetch(`${base}/hls/${ROOM}/index.m3u8`)).text();
  const uri = multivariant.split('\n').find((line) => line && !line.startsWith('#'));
  assert.ok(uri, `a rendition in ${multivariant}`);
  const text = await (await fetch(new URL(uri, `${base}/hls/${ROOM}/index.m3u8`))).text();
  const firstMsn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1]);
  const segments = text.split('\n').filter((line) => line && !line.startsWith('#')).length;
  assert.ok(Number.isInteger(firstMsn) && segments > 0, text);
  return {
    firstMsn,
    lastMsn: firstMsn + segments - 1,
    discontinuitySequence: Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0),
    discontinuities: (text.match(/^#EXT-X-DISCONTINUITY$/gm) ?? []).length,
  };
}
