import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import HLS from 'hls-parser';
import type { MediaPlaylist, MasterPlaylist } from 'hls-parser/types.js';

/** Parses with the maintained hls-parser in strict mode: any violation of the spec's rules throws. */
function parseStrict(text: string, multivariant: boolean): MediaPlaylist | MasterPlaylist {
  HLS.setOptions({ strictMode: true });
  try {
    const parsed = HLS.parse(text);
    assert.equal(parsed.isMasterPlaylist, multivariant);
    return parsed;
  } finally {
    HLS.setOptions({ strictMode: false });
  }
}

export function parseMedia(text: string): MediaPlaylist {
  return parseStrict(text, false) as MediaPlaylist;
}

export function parseMultivariant(text: string): MasterPlaylist {
  return parseStrict(text, true) as MasterPlaylist;
}

/**
 * Whether a part (or segment) starts with a video key frame, according to ffprobe on the
 * init segment followed by the media: a check independent of our own box parser.
 */
export function startsWithKeyFrame(init: Buffer, media: Buffer): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'stagecast-probe-'));
  try {
    const file = join(dir, 'probe.mp4');
    writeFileSync(file, Buffer.concat([init, media]));
    const out = spawnSync(
      '/usr/bin/ffprobe',
      ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=flags', '-read_intervals', '%+#1', '-of', 'csv=p=0', file],
      { encoding: 'utf8' },
    );
    assert.equal(out.status, 0, out.stderr);
    const first = out.stdout.trim().split('\n')[0] ?? '';
    return first.startsWith('K');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
