/**
 * Property-based fuzzing of every edge where SDP enters (WHIP, WHEP, signaling `publish` and
 * `subscriberAnswer`) and of signaling frames in general, against the whole server in-process
 * with each engine (no media flows; no Chromium, no ffmpeg). Inputs are mutations of the real
 * offers in test/fixtures/sdp (test/support/sdpFuzz.ts).
 *
 * Properties: nothing answers 5xx (`internal`, `engine_error`, `unavailable` on signaling);
 * every 4xx is `{ error: { code, message } }` with a known code, the status that code maps
 * to, and a short message without a stack; an offer that the strict SDP rules refuse gets
 * `400 invalid_sdp` with the rule's own message, before any engine sees it.
 *
 * Cases: FUZZ_RUNS per property (default 500; four properties, so 2,000 per engine). The seed
 * is fixed under CI=true, FUZZ_SEED replays a run, otherwise it is random; it is printed.
 *
 * Run: node scripts/test.mjs test/e2e/sdp-fuzz.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import fc from 'fast-check';
import { assertSdpShape } from '../../services/api/middleware/sdpBody/index.ts';
import { DEFAULT_SDP_MAX_MEDIA_SECTIONS } from '../../services/core/config.ts';
import type { ErrorCode } from '../../services/core/errors.ts';
import { ServiceError } from '../../services/core/errors.ts';
import type { EngineKind } from '../../services/engine/EngineTypes.ts';
import { assertSdpRules } from '../../services/engine/sdpRules.ts';
import { startServer, type RunningServer } from '../../services/server/main.ts';
import { describeEngines } from '../support/engines.ts';
import { inProcessConfig } from '../support/inProcessServer.ts';
import { applyMutations, FIXTURE_OFFERS, fuzzSeed, mutatedOffer, signalingFrame, toBodyBytes, type SdpMutation } from '../support/sdpFuzz.ts';
import { connectClient, type JoinedClient, type Msg } from '../support/wsClient.ts';

const SEED = fuzzSeed();
const RUNS = Number(process.env.FUZZ_RUNS ?? 500);
console.log(`sdp fuzz: seed ${SEED} (replay with FUZZ_SEED=${SEED}), ${RUNS} cases per property`);

/** Every code the service may put in an error body, with the HTTP status it maps to. */
const STATUS_OF: Record<Exclude<ErrorCode, 'internal'>, number> = {
  bad_request: 400,
  invalid_sdp: 400,
  invalid_message: 400,
  unknown_type: 400,
  chat_too_long: 400,
  unauthorized: 401,
  forbidden: 403,
  chat_muted: 403,
  cluster_unauthorized: 403,
  not_found: 404,
  conflict: 409,
  invalid_state: 409,
  payload_too_large: 413,
  rate_limited: 429,
  too_many_sessions: 429,
  unsupported: 501,
  engine_error: 502,
  unavailable: 503,
};
/** Codes that say the server, not the client, failed: never an answer to client input. */
const SERVER_FAULTS = new Set(['internal', 'engine_error', 'unavailable']);

/** What the strict rules say of an SDP: undefined (accepted) or the message. */
function ruleVerdict(sdp: string): string | undefined {
  try {
    assertSdpRules(sdp, { maxMediaSections: DEFAULT_SDP_MAX_MEDIA_SECTIONS });
    return undefined;
  } catch (err) {
    assert.ok(err instanceof ServiceError && err.code === 'invalid_sdp', `the rules threw something else: ${String(err)}`);
    return err.message;
  }
}

function assertCleanMessage(message: unknown): void {
  assert.equal(typeof message, 'string');
  const text = message as string;
  assert.ok(text.length > 0 && text.length <= 300, `message of ${text.length} characters`);
  assert.doesNotMatch(text, /\n\s+at |\/work\/|node_modules|\.ts:\d/, 'no stack or path');
}

describeEngines('SDP and signaling fuzzing', (engine: EngineKind) => {
  let server: RunningServer;
  const tally = { cases: 0, byStatus: new Map<string, number>() };
  const count = (key: string) => {
    tally.cases++;
    tally.byStatus.set(key, (tally.byStatus.get(key) ?? 0) + 1);
  };

  before(async () => {
    const mediasoupEnv = { MEDIASOUP_WORKERS: '1', ...(process.env.MEDIASOUP_WORKER_BIN ? { MEDIASOUP_WORKER_BIN: process.env.MEDIASOUP_WORKER_BIN } : {}) };
    server = await startServer(
      inProcessConfig({ ENGINE: engine, ...(engine === 'mediasoup' ? mediasoupEnv : {}), BROADCAST_AUTO_START: 'false', WS_RATE_LIMIT_PER_SECOND: '10000',
        // Every case comes from one IP: the per-IP limit on offers would answer most of them 429.
        HTTP_INGEST_RATE_PER_MINUTE: '1000000', HTTP_INGEST_RATE_BURST: '1000000' }),
    );
    await server.registry.create('fuzz');
  });
  after(async () => {
    console.log(`sdp fuzz [${engine}]: ${tally.cases} cases, by outcome ${JSON.stringify(Object.fromEntries(tally.byStatus))}`);
    await server.close();
  });

  it('WHIP: the offers of the review that found issue 14 are 400 invalid_sdp naming the rule, and leave no participant', async () => {
    const { token } = await server.tokens.issue('fuzz', 'review', 'presenter');
    const offer = FIXTURE_OFFERS.get('chrome-publish-single.sdp')!;
    const line = (name: string, value: string) => applyMutations(offer, [0, 1].map((which) => ({ op: name === 'fingerprint' ? 'fingerprint' : 'ice', attr: name as 'ice-ufrag', which, value })) as SdpMutation[]);
    const pairs = (n: number, pair = 'AB') => Array(n).fill(pair).join(':');
    const cases: [string, string][] = [
      [line('fingerprint', `sha-256 ${pairs(32, 'ZZ')}`), 'a=fingerprint: sha-256 value must be colon-separated hex pairs ("Z" (U+005A) at position 1)'],
      [line('fingerprint', `sha-256 ${pairs(3)}`), 'a=fingerprint: sha-256 needs 32 bytes, got 3'],
      [line('fingerprint', `md9 ${pairs(32)}`), 'a=fingerprint: "md9" is not a known hash function; use one of sha-1, sha-224, sha-256, sha-384, sha-512'],
      [line('fingerprint', ` ${pairs(32)}`), 'a=fingerprint: expected "<hash function> <hex pairs>", e.g. "sha-256 AB:CD:…"'],
      [line('fingerprint', 'sha-256 '), 'a=fingerprint: expected "<hash function> <hex pairs>", e.g. "sha-256 AB:CD:…"'],
      [line('ice-ufrag', 'ab\u0080\u00ffcd'), 'a=ice-ufrag: U+FFFD at position 3 is not an ice-char (ALPHA / DIGIT / "+" / "/")'],
      [line('ice-ufrag', 'ab cd'), 'a=ice-ufrag: U+0020 at position 3 is not an ice-char (ALPHA / DIGIT / "+" / "/")'],
      [line('ice-ufrag', 'u'.repeat(300)), 'a=ice-ufrag: must be 4–256 ice-chars, got 300'],
      [offer.replace('a=mid:1\r\n', 'a=mid:0\r\n'), 'a=mid: "0" is used by m-sections 1 and 2'],
    ];
    const room = server.registry.require('fuzz');
    const before = room.listParticipants().length;
    for (const [sdp, message] of cases) {
      const res = await fetch(`${server.url}/whip/fuzz`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/sdp' },
        body: toBodyBytes(sdp),
      });
      count(`whip ${res.status}`);
      assert.equal(res.status, 400, message);
      assert.deepEqual(await res.json(), { error: { code: 'invalid_sdp', message } });
    }
    assert.equal(room.listParticipants().length, before, 'no WHIP participant joined');
  });

  for (const kind of ['whip', 'whep'] as const) {
    it(`${kind.toUpperCase()}: mutated offers get 201 or a clean 4xx, and the rules' verdict`, async () => {
      const { token } = await server.tokens.issue('fuzz', `${kind}-fuzzer`, 'presenter');
      await fc.assert(
        fc.asyncProperty(mutatedOffer(), async ({ fixture, mutations }) => {
          const sdp = applyMutations(FIXTURE_OFFERS.get(fixture)!, mutations);
          const body = toBodyBytes(sdp);
          const res = await fetch(`${server.url}/${kind}/fuzz`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/sdp' },
            body,
          });
          const text = await res.text();
          count(`${kind} ${res.status}`);
          assert.ok(res.status < 500, `${res.status}: ${text.slice(0, 300)}`);
          const received = new TextDecoder().decode(body);
          const verdict = ruleVerdict(received);
          if (res.status === 201) {
            assert.equal(verdict, undefined, `201 for an offer the rules refuse: ${verdict}`);
            const location = res.headers.get('location');
            assert.ok(location);
            const ended = await fetch(`${server.url}${location}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
            assert.equal(ended.status, 200);
            return;
          }
          assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
          const { error } = JSON.parse(text) as { error: { code: keyof typeof STATUS_OF; message: string } };
          assert.equal(STATUS_OF[error.code], res.status, `code ${error.code} with status ${res.status}`);
          assertCleanMessage(error.message);
          // The fixtures that are what this endpoint takes (publish offers for WHIP, recvonly for WHEP) pass as captured.
          if (mutations.length === 0 && fixture.includes(kind === 'whip' ? '-publish-' : '-whep-')) assert.fail(`the unmutated ${fixture} was refused: ${res.status} ${text}`);
          if (verdict !== undefined) {
            assert.equal(error.code, 'invalid_sdp');
            let shapeOk = true;
            try {
              assertSdpShape(received);
            } catch {
              shapeOk = false;
            }
            // The middleware's cheaper shape check may speak first, in its own words.
            if (shapeOk) assert.equal(error.message, verdict);
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    });
  }

  /** A joined presenter that is replaced when the fuzzing closes its socket. */
  async function presenter(identity: string): Promise<{ client: () => Promise<JoinedClient>; close: () => void }> {
    let current: JoinedClient | undefined;
    const { token } = await server.tokens.issue('fuzz', identity, 'presenter');
    return {
      client: async () => {
        if (!current || current.ws.readyState !== current.ws.OPEN) current = await connectClient(server.url, token, { join: true, label: identity });
        return current;
      },
      close: () => current?.ws.terminate(),
    };
  }

  let barriers = 0;
  /**
   * Sends `frame`, then a second `join`: the session answers requests in order and a second join
   * is a harmless `invalid_state`, so its reply comes after every reply to `frame`. Returns those
   * replies (up to the barrier's, or the socket's end).
   */
  async function exchange(client: JoinedClient, frame: string): Promise<Msg[]> {
    const start = client.inbox.length;
    client.send(frame);
    const id = `barrier-${++barriers}`;
    client.send({ v: 1, type: 'join', id });
    await Promise.race([client.next((m) => m.re === id, 20_000), client.closed]);
    return client.inbox.slice(start).filter((m) => m.re !== id);
  }

  function assertCleanReplies(replies: Msg[], what: string): void {
    for (const m of replies) {
      if (m.type !== 'error') continue;
      count(`signaling ${m.code}`);
      assert.ok(m.code !== undefined && Object.hasOwn(STATUS_OF, m.code), `${what}: unknown code ${m.code}`);
      assert.ok(!SERVER_FAULTS.has(m.code), `${what}: server fault ${m.code}: ${m.message}`);
      assertCleanMessage(m.message);
    }
  }

  it('signaling: random frames get replies with clean, known error codes', async () => {
    const p = await presenter('frame-fuzzer');
    try {
      await fc.assert(
        fc.asyncProperty(signalingFrame, async (frame) => {
          const replies = await exchange(await p.client(), frame);
          if (!replies.some((m) => m.type === 'error')) count('signaling no error');
          assertCleanReplies(replies, frame.slice(0, 200));
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    } finally {
      p.close();
    }
  });

  it('signaling: publish and subscriberAnswer with mutated SDP get an answer or a clean error, and the rules\' verdict', async () => {
    const p = await presenter('publish-fuzzer');
    try {
      await fc.assert(
        fc.asyncProperty(mutatedOffer(), fc.boolean(), async ({ fixture, mutations }, asAnswer) => {
          const client = await p.client();
          const sdp = applyMutations(FIXTURE_OFFERS.get(fixture)!, mutations);
          let replies: Msg[];
          if (asAnswer) {
            const offer = await client.request({ type: 'subscribe' });
            assert.equal(offer.type, 'subscriberOffer', JSON.stringify(offer).slice(0, 300));
            replies = await exchange(client, JSON.stringify({ v: 1, id: 'answer', type: 'subscriberAnswer', version: offer.version, sdp }));
            await client.request({ type: 'unsubscribe' });
          } else {
            replies = await exchange(client, JSON.stringify({ v: 1, id: 'offer', type: 'publish', sdp }));
            if (replies.some((m) => m.type === 'published')) await client.request({ type: 'unpublish' });
          }
          assertCleanReplies(replies, `${asAnswer ? 'subscriberAnswer' : 'publish'} of ${fixture}`);
          const reply = replies.find((m) => m.re === (asAnswer ? 'answer' : 'offer'));
          assert.ok(reply, 'a reply to the request');
          if (reply.type !== 'error') {
            count(`signaling ${reply.type}`);
            return;
          }
          // The rules hold answers to no m-section limit.
          const verdict = asAnswer ? (() => {
            try {
              assertSdpRules(sdp);
              return undefined;
            } catch (err) {
              return (err as Error).message;
            }
          })() : ruleVerdict(sdp);
          if (verdict !== undefined) {
            assert.equal(reply.code, 'invalid_sdp');
            assert.equal(reply.message, verdict);
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    } finally {
      p.close();
    }
  });
});
