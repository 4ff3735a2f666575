import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { composeStage, DEFAULT_LADDER, gridFor, layoutTiles, type Tile } from '../../services/broadcast/composition.ts';
import { FfmpegProcess } from '../../services/broadcast/ffmpeg.ts';
import { DEFAULT_X264_PRESET } from '../../services/core/config.ts';
import { Fmp4Watcher } from './fmp4.ts';

function overlaps(a: Tile, b: Tile): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

describe('stage layout', () => {
  it('picks 1x1, 2x1, 2x2 and 3x3 grids', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 9, 12].map((n) => gridFor(Math.min(n, 9)).name),
      ['none', '1x1', '2x1', '2x2', '2x2', '3x3', '3x3', '3x3'],
    );
  });

  it('one speaker fills the frame', () => {
    assert.deepEqual(layoutTiles(1).tiles, [{ x: 0, y: 0, width: 1280, height: 720 }]);
  });

  it('tiles are even-sized, inside the canvas, and never overlap, for 1..9 speakers', () => {
    for (let n = 1; n <= 9; n++) {
      const { tiles } = layoutTiles(n);
      assert.equal(tiles.length, n);
      for (const [i, t] of tiles.entries()) {
        assert.ok(t.width % 2 === 0 && t.height % 2 === 0 && t.x % 2 === 0 && t.y % 2 === 0, `n=${n} tile ${i} is even`);
        assert.ok(t.x >= 0 && t.y >= 0 && t.x + t.width <= 1280 && t.y + t.height <= 720, `n=${n} tile ${i} inside`);
        for (const other of tiles.slice(i + 1)) assert.ok(!overlaps(t, other), `n=${n} tiles overlap`);
      }
    }
  });

  it('centres a partly filled last row and the used rows', () => {
    // 3 in 2x2: the third tile sits centred under the first two.
    assert.deepEqual(layoutTiles(3).tiles[2], { x: 320, y: 360, width: 640, height: 360 });
    // 5 in 3x3: two rows, vertically centred; the second row of two is centred.
    const five = layoutTiles(5).tiles;
    assert.equal(five[0]!.y, 120);
    assert.equal(five[3]!.x, 212);
    assert.equal(five[3]!.y, 360);
  });

  it('shows at most 9 videos', () => {
    const c = composeStage({ video: Array.from({ length: 12 }, (_, i) => `0:${i}`), audio: [] });
    assert.equal(c.layout.tiles.length, 9);
    assert.match(c.filterComplex, /xstack=inputs=9:/);
    assert.doesNotMatch(c.filterComplex, /\[0:9\]/);
  });
});

describe('stage filter graph', () => {
  it('a single speaker is scaled and padded to 1280x720 without xstack', () => {
    const c = composeStage({ video: ['0:0'], audio: ['0:1'] });
    assert.doesNotMatch(c.filterComplex, /xstack/);
    assert.match(c.filterComplex, /\[0:0\]fps=30,scale=1280:720:force_original_aspect_ratio=decrease/);
    assert.match(c.filterComplex, /pad=1280:720:\(ow-iw\)\/2:\(oh-ih\)\/2/);
    assert.match(c.filterComplex, /\[aud0\]anull\[mix\]/);
  });

  it('several speakers share an xstack grid with black fill and mixed audio', () => {
    const c = composeStage({ video: ['0:0', '0:2', '0:4'], audio: ['0:1', '0:3'] });
    assert.match(c.filterComplex, /\[tile0\]\[tile1\]\[tile2\]xstack=inputs=3:layout=0_0\|640_0\|320_360:fill=black/);
    assert.match(c.filterComplex, /amix=inputs=2:normalize=0/);
  });

  it('an empty stage is a black 1280x720@30 frame and silence, paced in real time', () => {
    const c = composeStage({ video: [], audio: [] });
    assert.match(c.filterComplex, /^color=c=black:s=1280x720:r=30,realtime/);
    assert.match(c.filterComplex, /anullsrc=r=48000:cl=stereo,arealtime\[mix\]/);
    // With a live input to pace ffmpeg, generated sources need no pacing.
    assert.doesNotMatch(composeStage({ video: [], audio: ['0:0'] }).filterComplex, /realtime/);
  });

  it('encodes the ladder with aligned GOPs, fixed rate and LL-HLS fragments', () => {
    const c = composeStage({ video: ['0:0'], audio: [] });
    assert.deepEqual(c.outputs.map((o) => o.rendition.name), ['720p', '360p']);
    assert.deepEqual(c.outputs.map((o) => o.maps), [['[v0]', '[a0]'], ['[v1]', '[a1]']]);
    assert.match(c.filterComplex, /\[stage\]split=2\[vs0\]\[vs1\];\[vs0\]null\[v0\];\[vs1\]scale=640:360\[v1\]/);
    for (const o of c.outputs) {
      const opts = o.options.join(' ');
      // The preset defaults to BROADCAST_X264_PRESET's default, stated once in config.ts.
      assert.match(opts, new RegExp(`-c:v libx264 -preset ${DEFAULT_X264_PRESET} -tune zerolatency`));
      assert.match(opts, /-g 30 -keyint_min 30 -sc_threshold 0 -force_key_frames expr:gte\(t,n_forced\*1\)/);
      assert.match(opts, /-movflags empty_moov\+default_base_moof\+frag_keyframe\+cmaf -frag_duration 200000/);
      assert.match(opts, /-c:a aac .*-ar 48000 -ac 2/);
    }
    assert.deepEqual(c.outputs.map((o) => o.codecs), ['avc1.4d401f,mp4a.40.2', 'avc1.4d401e,mp4a.40.2']);
  });

  it('rejects a bad ladder', () => {
    assert.throws(() => composeStage({ video: [], audio: [] }, { ladder: [] }), TypeError);
    assert.throws(() => composeStage({ video: [], audio: [] }, { ladder: [{ ...DEFAULT_LADDER[0]!, width: 641 }] }), TypeError);
    assert.throws(() => composeStage({ video: [], audio: [] }, { ladder: [DEFAULT_LADDER[0]!, DEFAULT_LADDER[0]!] }), TypeError);
  });
});

/** Presentation times (s) of the video keyframes in an MP4 held in memory, read by ffprobe. */
function keyframeTimes(mp4: Buffer): number[] {
  const probe = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', '-i', 'pipe:0'], { input: mp4, encoding: 'utf8' });
  return probe.stdout
    .split('\n')
    .filter((l) => l.includes('K'))
    .map((l) => Number(l.split(',')[0]));
}

describe('stage filter graphs run in a real ffmpeg', () => {
  // Odd sizes and a portrait source exercise the fit (aspect kept, even dimensions).
  const sizes = ['640x360', '480x360', '360x640', '320x240', '333x250'];

  for (const count of [0, 1, 2, 4, 9]) {
    it(`${count} video input(s): both renditions come out as fMP4 at 1280x720 and 640x360`, async () => {
      const video = Array.from({ length: count }, (_, i) => ({
        type: 'lavfi' as const,
        graph: `testsrc2=size=${sizes[i % sizes.length]}:rate=${i % 2 ? 25 : 30}:duration=${count === 2 ? 2 : 1}`,
      }));
      const audio = count === 0 ? [] : [1, 2].map((k) => ({ type: 'lavfi' as const, graph: `sine=frequency=${220 * k}:sample_rate=48000:duration=1` }));
      const c = composeStage({
        video: video.map((_, i) => `${i}:v:0`),
        audio: audio.map((_, i) => `${count + i}:a:0`),
      });
      const proc = new FfmpegProcess({
        inputs: [...video, ...audio],
        filterComplex: c.filterComplex,
        // An empty stage never ends by itself.
        outputs: c.outputs.map((o) => ({ maps: o.maps, options: [...o.options, '-t', count === 2 ? '2' : '1'] })),
      });
      const watchers = proc.outputs.map((s) => new Fmp4Watcher(s));
      const bytes = proc.outputs.map((s) => {
        const chunks: Buffer[] = [];
        s.on('data', (c: Buffer) => chunks.push(c));
        return chunks;
      });
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
      const timer = setTimeout(() => proc.kill('SIGKILL'), 30000);
      const code = await exited;
      clearTimeout(timer);
      await Promise.all(watchers.map((w) => w.until((x) => x.ended, 5000, 'end of output')));
      assert.equal(code, 0, proc.stderrTail().join('\n'));
      const sizesOut = watchers.map((w) => `${w.video?.width}x${w.video?.height}`);
      assert.deepEqual(sizesOut, ['1280x720', '640x360']);
      for (const [i, w] of watchers.entries()) {
        assert.deepEqual(w.types.slice(0, 3), ['ftyp', 'moov', 'moof']);
        assert.ok(w.moofs >= 3, `about 5 fragments of 200 ms in 1 s, got ${w.moofs}`);
        assert.equal(w.video?.codec, c.outputs[i]!.codecs.split(',')[0]);
      }
      if (count === 2) {
        // 2 s of input: keyframes at 0 and 1 s in both renditions, so the packager cuts them alike.
        const [hd, sd] = bytes.map((chunks) => keyframeTimes(Buffer.concat(chunks)));
        assert.deepEqual(hd, [0, 1]);
        assert.deepEqual(sd, hd);
      }
    });
  }
});
