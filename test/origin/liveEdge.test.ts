import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Condition } from '../../services/packager/condition.ts';
import type { Rendition } from '../../services/packager/index.ts';
import { LiveEdge } from '../../services/origin/liveEdge.ts';

/**
 * The parts of a Rendition the live edge reads, driven by hand: `publish()` adds a part the
 * way the packager does (state first, then one broadcast), and every render is counted.
 */
class FakeRendition {
  readonly condition = new Condition();
  closed = false;
  ended = false;
  renders = 0;
  /** The open segment; the one before it is complete (a playlist of parts alone holds nothing, see isSatisfied). */
  msn = 1;
  part = -1;
  readonly parts = new Map<number, Buffer>();
  private nextId = 0;

  get revision(): number {
    return this.condition.revision;
  }

  position(): { msn: number; part: number } | undefined {
    return this.part < 0 ? undefined : { msn: this.msn, part: this.part };
  }

  lastCompleteMsn(): number {
    return this.msn - 1;
  }

  getPart(id: number): Buffer | undefined {
    return this.parts.get(id);
  }

  playlist(): string {
    this.renders++;
    return `#EXTM3U\n#msn=${this.msn} part=${this.part} revision=${this.revision}\n`;
  }

  publish(): void {
    this.part++;
    this.parts.set(this.nextId++, Buffer.from('part'));
    this.condition.broadcast();
  }

  close(): void {
    this.closed = true;
    this.condition.broadcast();
  }
}

const edgeOver = (r: FakeRendition) => new LiveEdge(r as unknown as Rendition, 'e');

describe('LiveEdge: the shared wake-up of blocked requests', () => {
  it('releases many waiters of one (msn, part) with one gate and one render, and hands them the same bytes', async () => {
    const r = new FakeRendition();
    r.publish(); // part 0
    const edge = edgeOver(r);
    const waiting = Array.from({ length: 1000 }, () => edge.waitForPlaylist({ msn: 1, part: 1 }, 5000));
    assert.equal(edge.openGates, 1);
    assert.equal(r.condition.waiting, 0, 'no per-request listener on the condition');
    // Parts arrive for nobody's gate in between: other waiters' parts do not wake these.
    const later = edge.waitForPlaylist({ msn: 1, part: 2 }, 5000);
    assert.equal(edge.openGates, 2);
    const rendersBefore = r.renders;
    r.publish(); // part 1
    const outcomes = await Promise.all(waiting);
    assert.deepEqual(new Set(outcomes), new Set(['ready']));
    assert.equal(edge.openGates, 1, 'the gate of part 2 stays shut');
    const bodies = new Set(outcomes.map(() => edge.playlist()!.body));
    assert.equal(bodies.size, 1, 'one Buffer for every waiter');
    assert.equal(r.renders - rendersBefore, 1, 'rendered once when the part landed');
    const played = edge.playlist()!;
    assert.match(played.body.toString(), /part=1 /);
    assert.equal(played.etag, `"e-${r.revision}"`);
    r.publish(); // part 2
    assert.equal(await later, 'ready');
    assert.equal(r.renders - rendersBefore, 2);
    assert.equal(edge.openGates, 0);
  });

  it('answers at once when the part is already there, and renders nothing new for an unchanged revision', async () => {
    const r = new FakeRendition();
    r.publish();
    r.publish();
    const edge = edgeOver(r);
    const first = edge.playlist()!;
    assert.equal(await edge.waitForPlaylist({ msn: 1, part: 1 }, 5000), 'ready');
    assert.equal(edge.openGates, 0);
    assert.equal(edge.playlist(), first);
    assert.equal(r.renders, 1);
  });

  it('shares one gate between waiters of a part object, released when it lands', async () => {
    const r = new FakeRendition();
    const edge = edgeOver(r);
    const waiting = Array.from({ length: 100 }, () => edge.waitForPart(0, 5000));
    assert.equal(edge.openGates, 1);
    r.publish();
    assert.deepEqual(new Set(await Promise.all(waiting)), new Set(['ready']));
    assert.equal(r.renders, 0, 'part waiters need no playlist');
  });

  it('wakes every waiter with `closed` when the rendition closes while they wait', async () => {
    const r = new FakeRendition();
    r.publish();
    const edge = edgeOver(r);
    const playlists = Array.from({ length: 50 }, (_, i) => edge.waitForPlaylist({ msn: 1, part: 1 + (i % 3) }, 5000));
    const parts = Array.from({ length: 50 }, () => edge.waitForPart(5, 5000));
    assert.equal(edge.openGates, 4);
    const t0 = performance.now();
    r.close();
    const outcomes = await Promise.all([...playlists, ...parts]);
    assert.ok(performance.now() - t0 < 1000);
    assert.deepEqual(new Set(outcomes), new Set(['closed']));
    assert.equal(edge.openGates, 0);
    // Later requests learn it at once, without opening a gate.
    assert.equal(await edge.waitForPlaylist({ msn: 9, part: 0 }, 5000), 'closed');
    assert.equal(edge.openGates, 0);
  });

  it('wakes waiters with `closed` when the broadcast ends without their part', async () => {
    const r = new FakeRendition();
    r.publish();
    const edge = edgeOver(r);
    const waiting = edge.waitForPlaylist({ msn: 1, part: 1 }, 5000);
    r.ended = true;
    r.condition.broadcast();
    assert.equal(await waiting, 'closed');
  });

  it('times each request out on its own deadline, leaving the gate to the others', async () => {
    const r = new FakeRendition();
    r.publish();
    const edge = edgeOver(r);
    const patient = edge.waitForPlaylist({ msn: 1, part: 1 }, 5000);
    const t0 = performance.now();
    assert.equal(await edge.waitForPlaylist({ msn: 1, part: 1 }, 50), 'timeout');
    assert.ok(performance.now() - t0 >= 45);
    assert.equal(edge.openGates, 1);
    r.publish();
    assert.equal(await patient, 'ready');
  });

  it('holds every request while the playlist has only the parts of an open first segment, and releases them with it', async () => {
    const r = new FakeRendition();
    r.msn = 0; // nothing complete yet: the broadcast has just started here
    r.publish();
    r.publish();
    const edge = edgeOver(r);
    const onPart = edge.waitForPlaylist({ msn: 0, part: 1 }, 5000);
    const plain = edge.waitForFirstSegment(5000);
    assert.equal(edge.openGates, 2, 'part 1 is there, but not a segment: both wait');
    r.msn = 1; // segment 0 completes as part 0 of segment 1 lands
    r.part = -1;
    r.publish();
    assert.deepEqual(await Promise.all([onPart, plain]), ['ready', 'ready']);
    assert.equal(await edge.waitForFirstSegment(10), 'ready');
  });
});
