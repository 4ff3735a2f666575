import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { composeStage } from '../../services/broadcast/composition.ts';
import { MAX_STRIP_TILES, presentationTiles } from '../../services/broadcast/presentation.ts';
import { planTranscode } from '../../services/broadcast/Transcoder.ts';
import type { StageInput } from '../../services/broadcast/TranscoderTypes.ts';

const videoSdp = (port: number) =>
  ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=video ${port} RTP/AVP 96`, 'a=rtpmap:96 VP8/90000', `a=rtcp:${port + 1}`, 'a=recvonly', ''].join('\r\n');
const audioSdp = (port: number) =>
  ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 111`, 'a=rtpmap:111 opus/48000/2', `a=rtcp:${port + 1}`, 'a=recvonly', ''].join('\r\n');

describe('presentation layout', () => {
  it('a lone screen fills the canvas', () => {
    assert.deepEqual(presentationTiles(0).tiles, [{ x: 0, y: 0, width: 1280, height: 720 }]);
  });

  it('the screen takes the left three quarters, speakers stack beside it, centred, even, no overlap', () => {
    for (let n = 1; n <= MAX_STRIP_TILES + 2; n++) {
      const { name, tiles } = presentationTiles(n);
      assert.equal(name, 'presentation');
      assert.equal(tiles.length, 1 + Math.min(n, MAX_STRIP_TILES), `n=${n}: at most ${MAX_STRIP_TILES} speakers`);
      assert.deepEqual(tiles[0], { x: 0, y: 0, width: 960, height: 720 });
      const strip = tiles.slice(1);
      for (const t of strip) {
        assert.equal(t.x, 960);
        assert.equal(t.width, 320);
        assert.ok(t.height <= 180 && t.height % 2 === 0 && t.y % 2 === 0);
      }
      for (let i = 1; i < strip.length; i++) assert.equal(strip[i]!.y, strip[i - 1]!.y + strip[i - 1]!.height, 'stacked without gaps');
      const top = strip[0]!.y;
      const bottom = 720 - (strip.at(-1)!.y + strip.at(-1)!.height);
      assert.ok(Math.abs(top - bottom) <= 2, `n=${n}: strip centred (${top} above, ${bottom} below)`);
    }
  });

  it('composeStage puts the screen first in the xstack, then the cameras', () => {
    const c = composeStage({ video: ['0:1', '0:2'], audio: ['0:0'], screen: '0:3' });
    assert.equal(c.layout.name, 'presentation');
    assert.match(c.filterComplex, /\[0:3\]fps=30,scale=960:720:.*\[tile0\]/);
    assert.match(c.filterComplex, /\[0:1\]fps=30,scale=320:180:.*\[tile1\]/);
    assert.match(c.filterComplex, /xstack=inputs=3:layout=0_0\|960_180\|960_360:fill=black/);
  });

  it('planTranscode: a `screen` video input switches to the presentation layout; a second screen is left out', () => {
    const inputs: StageInput[] = [
      { id: 'mic', kind: 'audio', sdp: audioSdp(20000) },
      { id: 'cam', kind: 'video', sdp: videoSdp(20002) },
      { id: 'screen', kind: 'video', source: 'screen', sdp: videoSdp(20004) },
      { id: 'screen2', kind: 'video', source: 'screen', sdp: videoSdp(20006) },
    ];
    const plan = planTranscode(inputs);
    assert.equal(plan.composition.layout.name, 'presentation');
    assert.deepEqual(plan.droppedVideo, ['screen2']);
    assert.match(plan.composition.filterComplex, /\[0:2\]fps=30,scale=960:720/);
    // Without the screen, the same cameras are a grid again.
    assert.equal(planTranscode(inputs.slice(0, 2)).composition.layout.name, '1x1');
  });

  it('runs in a real ffmpeg: the screen region shows the screen, the strip the camera', () => {
    const c = composeStage({ video: ['1:v:0'], audio: [], screen: '0:v:0' }, { realtimeSources: false });
    // A magenta 16:9 screen and a green 4:3 camera, one frame of the 720p rendition as RGB.
    const args = [
      '-hide_banner', '-loglevel', 'error',
      '-f', 'lavfi', '-i', 'color=c=0xff00ff:s=1280x720:r=30:d=1',
      '-f', 'lavfi', '-i', 'color=c=0x00ff00:s=640x480:r=30:d=1',
      '-filter_complex', c.filterComplex,
      '-map', '[v0]', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
      '-map', '[v1]', '-map', '[a0]', '-map', '[a1]', '-t', '0.2', '-f', 'null', '-',
    ];
    const out = spawnSync(process.env.FFMPEG_PATH ?? 'ffmpeg', args, { maxBuffer: 16 * 1024 * 1024, timeout: 60000 });
    assert.equal(out.status, 0, String(out.stderr));
    const frame = out.stdout;
    assert.equal(frame.length, 1280 * 720 * 3);
    const px = (x: number, y: number) => [...frame.subarray((y * 1280 + x) * 3, (y * 1280 + x) * 3 + 3)];
    const near = (got: number[], want: number[]) => got.every((v, i) => Math.abs(v - want[i]!) < 40);
    // The 16:9 screen fitted into 960x720: 960x540 at y 90..630, black bars above and below.
    assert.ok(near(px(480, 360), [255, 0, 255]), `screen centre ${px(480, 360)}`);
    assert.ok(near(px(10, 100), [255, 0, 255]), `screen top-left ${px(10, 100)}`);
    assert.ok(near(px(480, 40), [0, 0, 0]), `bar above the screen ${px(480, 40)}`);
    // The 4:3 camera fitted into the 320x180 cell at (960, 270): 240x180 centred.
    assert.ok(near(px(1120, 360), [0, 255, 0]), `camera ${px(1120, 360)}`);
    assert.ok(near(px(1120, 100), [0, 0, 0]), `above the strip ${px(1120, 100)}`);
  });
});
