/**
 * How the stage looks on the broadcast: a pure function from the stage's inputs to an ffmpeg
 * filter graph plus, per rendition of the ABR ladder, the encoder and fMP4 muxer options.
 * Nothing here runs ffmpeg, so layouts are unit-tested as plain data.
 */
import { DEFAULT_X264_PRESET, type X264Preset } from '../core/config.ts';
import { MAX_STRIP_TILES, presentationTiles } from './presentation.ts';

/** One rung of the ABR ladder. */
export interface Rendition {
  /** Stable name, used by the packager in paths: `720p`, `360p`. */
  name: string;
  width: number;
  height: number;
  /** Video bitrate, bits per second (also the VBV max rate). */
  videoBitrate: number;
  /** AAC bitrate, bits per second. */
  audioBitrate: number;
  /** H.264 profile. Default `main`. */
  profile?: 'baseline' | 'main' | 'high';
}

export const DEFAULT_LADDER: readonly Rendition[] = Object.freeze([
  { name: '720p', width: 1280, height: 720, videoBitrate: 2_500_000, audioBitrate: 128_000, profile: 'main' },
  { name: '360p', width: 640, height: 360, videoBitrate: 800_000, audioBitrate: 96_000, profile: 'main' },
]);

/** Most video tiles the grid shows (3x3); further inputs are left out. */
export const MAX_TILES = 9;

export interface CompositionOptions {
  /** Renditions to encode. Default `DEFAULT_LADDER`. */
  ladder?: readonly Rendition[];
  /** Size of the composed stage before scaling to each rendition. Default 1280x720. */
  canvas?: { width: number; height: number };
  /** Output frame rate, constant. Default 30. */
  fps?: number;
  /** Keyframe interval, seconds; every rendition cuts at the same instants. Default 1. */
  gopSeconds?: number;
  /** libx264 preset. Default: BROADCAST_X264_PRESET's (config.ts). */
  preset?: X264Preset;
  /** fMP4 fragment (LL-HLS part) duration, microseconds. Default 200000. */
  fragmentMicros?: number;
  /**
   * Pace generated sources (black frame, silence) at wall-clock rate. Needed only when no live
   * input paces ffmpeg; `composeStage` turns it on by itself when there are no inputs at all.
   */
  realtimeSources?: boolean;
}

export interface StageSources {
  /** ffmpeg stream specifiers of the video inputs, in tile order, e.g. `0:0`. */
  video: string[];
  /** ffmpeg stream specifiers of the audio inputs, e.g. `0:1`. */
  audio: string[];
  /**
   * A shared screen's video input. Present: the presentation layout (presentation.ts), the
   * screen large and `video` (the cameras) as a strip beside it.
   */
  screen?: string;
}

export interface Tile {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GridLayout {
  /** `1x1`, `2x1`, `2x2`, `3x3`, `presentation` (a shared screen), or `none` for an empty stage. */
  name: string;
  cols: number;
  rows: number;
  /** One per shown video input, in input order (a shared screen first), in canvas pixels. */
  tiles: Tile[];
}

export interface RenditionOutput {
  rendition: Rendition;
  /** Filter labels to `-map` into this output. */
  maps: string[];
  /** Encoder and muxer options for this output. */
  options: string[];
  /** RFC 6381 codecs of the output, for the multivariant playlist, e.g. `avc1.4d401f,mp4a.40.2`. */
  codecs: string;
}

export interface Composition {
  layout: GridLayout;
  filterComplex: string;
  outputs: RenditionOutput[];
}

/** The grid for `count` speakers: 1 fills the frame, 2 side by side, up to 4 in 2x2, up to 9 in 3x3. */
export function gridFor(count: number): { name: string; cols: number; rows: number } {
  if (count <= 0) return { name: 'none', cols: 0, rows: 0 };
  if (count === 1) return { name: '1x1', cols: 1, rows: 1 };
  if (count === 2) return { name: '2x1', cols: 2, rows: 1 };
  if (count <= 4) return { name: '2x2', cols: 2, rows: 2 };
  return { name: '3x3', cols: 3, rows: 3 };
}

/**
 * Tile rectangles for `count` inputs on a canvas. Cells are even-sized (yuv420p needs even
 * dimensions). The used rows are centred vertically and a partly filled last row is centred
 * horizontally; everything else stays black.
 */
export function layoutTiles(count: number, canvas = { width: 1280, height: 720 }): GridLayout {
  const shown = Math.min(Math.max(count, 0), MAX_TILES);
  const grid = gridFor(shown);
  if (shown === 0) return { ...grid, tiles: [] };
  const cellW = even(canvas.width / grid.cols);
  const cellH = even(canvas.height / grid.rows);
  const usedRows = Math.ceil(shown / grid.cols);
  const top = even((canvas.height - usedRows * cellH) / 2);
  const left = even((canvas.width - grid.cols * cellW) / 2);
  const tiles: Tile[] = [];
  for (let i = 0; i < shown; i++) {
    const row = Math.floor(i / grid.cols);
    const col = i % grid.cols;
    const inRow = Math.min(grid.cols, shown - row * grid.cols);
    const rowLeft = left + even(((grid.cols - inRow) * cellW) / 2);
    tiles.push({ x: rowLeft + col * cellW, y: top + row * cellH, width: cellW, height: cellH });
  }
  return { ...grid, tiles };
}

/**
 * Builds the filter graph and per-rendition outputs. Video: each input is brought to a constant
 * frame rate and fitted into its tile (aspect kept, black bars), the tiles are placed on a
 * black canvas, and the canvas is split and scaled once per rendition. Audio: every input is
 * resampled to 48 kHz stereo on its timestamps (gaps filled with silence) and mixed without normalisation, so a
 * lone speaker keeps their level. An empty stage is a black frame and silence. With a shared
 * screen, the screen is the first tile of the presentation layout and the cameras follow.
 */
export function composeStage(sources: StageSources, options: CompositionOptions = {}): Composition {
  const ladder = options.ladder ?? DEFAULT_LADDER;
  if (ladder.length === 0) throw new TypeError('the ABR ladder needs at least one rendition');
  const names = new Set(ladder.map((r) => r.name));
  if (names.size !== ladder.length) throw new TypeError('rendition names must be unique');
  for (const r of ladder) {
    if (r.width % 2 || r.height % 2 || r.width <= 0 || r.height <= 0) {
      throw new TypeError(`rendition ${r.name}: width and height must be positive and even`);
    }
  }
  const canvas = options.canvas ?? { width: 1280, height: 720 };
  const fps = options.fps ?? 30;
  const gopSeconds = options.gopSeconds ?? 1;
  const video = sources.screen ? [sources.screen, ...sources.video.slice(0, MAX_STRIP_TILES)] : sources.video.slice(0, MAX_TILES);
  const realtime = options.realtimeSources ?? (video.length === 0 && sources.audio.length === 0);
  const layout = sources.screen ? presentationTiles(video.length - 1, canvas) : layoutTiles(video.length, canvas);
  const chains: string[] = [];

  // Video: compose the stage into [stage].
  if (video.length === 0) {
    chains.push(`color=c=black:s=${canvas.width}x${canvas.height}:r=${fps}${realtime ? ',realtime' : ''},format=yuv420p[stage]`);
  } else if (video.length === 1) {
    chains.push(`[${video[0]}]${fit(fps, canvas.width, canvas.height)}[stage]`);
  } else {
    video.forEach((spec, i) => {
      const tile = layout.tiles[i]!;
      chains.push(`[${spec}]${fit(fps, tile.width, tile.height)}[tile${i}]`);
    });
    const inputs = video.map((_, i) => `[tile${i}]`).join('');
    // Tile positions are relative to the first tile's corner; pad then centres the grid.
    const x0 = Math.min(...layout.tiles.map((t) => t.x));
    const y0 = Math.min(...layout.tiles.map((t) => t.y));
    const positions = layout.tiles.map((t) => `${t.x - x0}_${t.y - y0}`).join('|');
    chains.push(
      `${inputs}xstack=inputs=${video.length}:layout=${positions}:fill=black,` +
        `pad=${canvas.width}:${canvas.height}:${x0}:${y0}:color=black,fps=${fps}[stage]`,
    );
  }

  const ladderVideo = ladder.map((_, i) => `v${i}`);
  const split = ladder.map((_, i) => `[vs${i}]`).join('');
  chains.push(`[stage]split=${ladder.length}${split}`);
  ladder.forEach((r, i) => {
    const scale = r.width === canvas.width && r.height === canvas.height ? 'null' : `scale=${r.width}:${r.height}`;
    chains.push(`[vs${i}]${scale}[${ladderVideo[i]}]`);
  });

  // Audio: mix into [mix], then one copy per rendition.
  const audio = sources.audio;
  if (audio.length === 0) {
    chains.push(`anullsrc=r=48000:cl=stereo${realtime ? ',arealtime' : ''}[mix]`);
  } else {
    audio.forEach((spec, i) => {
      // Follow the (arrival) timestamps by stretching up to 1000 samples/s; fill gaps longer
      // than 300 ms (Opus DTX, loss) with silence; pad the start so audio begins with video.
      chains.push(
        `[${spec}]aresample=48000:async=1000:min_hard_comp=0.3:first_pts=0,` +
          `aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[aud${i}]`,
      );
    });
    if (audio.length === 1) chains.push('[aud0]anull[mix]');
    else chains.push(`${audio.map((_, i) => `[aud${i}]`).join('')}amix=inputs=${audio.length}:normalize=0:dropout_transition=0[mix]`);
  }
  chains.push(`[mix]asplit=${ladder.length}${ladder.map((_, i) => `[a${i}]`).join('')}`);

  const outputs = ladder.map((rendition, i) => ({
    rendition,
    maps: [`[v${i}]`, `[a${i}]`],
    options: encoderOptions(rendition, { fps, gopSeconds, preset: options.preset ?? DEFAULT_X264_PRESET, fragmentMicros: options.fragmentMicros ?? 200_000 }),
    codecs: `${avcCodec(rendition, fps, options.preset ?? DEFAULT_X264_PRESET)},mp4a.40.2`,
  }));
  return { layout, filterComplex: chains.join(';'), outputs };
}

/** Constant frame rate first (cheaper scaling), then fit inside w x h keeping aspect, black bars. */
function fit(fps: number, width: number, height: number): string {
  return (
    `fps=${fps},scale=${width}:${height}:force_original_aspect_ratio=decrease:force_divisible_by=2,` +
    `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p`
  );
}

function encoderOptions(
  r: Rendition,
  o: { fps: number; gopSeconds: number; preset: string; fragmentMicros: number },
): string[] {
  const gop = Math.max(1, Math.round(o.fps * o.gopSeconds));
  const kbps = Math.round(r.videoBitrate / 1000);
  return [
    '-c:v', 'libx264',
    '-preset', o.preset,
    '-tune', 'zerolatency',
    '-profile:v', r.profile ?? 'main',
    '-level:v', avcLevel(r, o.fps).name,
    '-pix_fmt', 'yuv420p',
    '-b:v', `${kbps}k`,
    '-maxrate', `${kbps}k`,
    '-bufsize', `${kbps}k`,
    // Same frames reach every rendition and all cut keyframes at the same instants: aligned GOPs.
    '-g', String(gop),
    '-keyint_min', String(gop),
    '-sc_threshold', '0',
    '-force_key_frames', `expr:gte(t,n_forced*${o.gopSeconds})`,
    '-c:a', 'aac',
    '-b:a', `${Math.round(r.audioBitrate / 1000)}k`,
    '-ar', '48000',
    '-ac', '2',
    '-f', 'mp4',
    '-movflags', 'empty_moov+default_base_moof+frag_keyframe+cmaf',
    '-frag_duration', String(o.fragmentMicros),
    // Hand each fragment to the pipe at once rather than when a 32 KiB buffer fills.
    '-flush_packets', '1',
    // Audio may arrive well before the first video keyframe; keep it instead of failing.
    '-max_muxing_queue_size', '1024',
  ];
}

/** Smallest H.264 level that fits the rendition (macroblocks per frame and per second). */
function avcLevel(r: Rendition, fps: number): { name: string; idc: number } {
  const mbs = Math.ceil(r.width / 16) * Math.ceil(r.height / 16);
  const levels = [
    { name: '3.0', idc: 30, frame: 1620, rate: 40500 },
    { name: '3.1', idc: 31, frame: 3600, rate: 108000 },
    { name: '3.2', idc: 32, frame: 5120, rate: 216000 },
    { name: '4.0', idc: 40, frame: 8192, rate: 245760 },
    { name: '4.2', idc: 42, frame: 8704, rate: 522240 },
    { name: '5.1', idc: 51, frame: 36864, rate: 983040 },
  ];
  return levels.find((l) => mbs <= l.frame && mbs * fps <= l.rate) ?? levels[levels.length - 1]!;
}

/**
 * `avc1.PPCCLL` as x264 writes it. x264 signals the simplest profile the stream needs, so
 * `ultrafast` (no CABAC, no 8x8 transform) is constrained baseline whatever the profile cap.
 */
function avcCodec(r: Rendition, fps: number, preset: string): string {
  const profile = preset === 'ultrafast' ? 'baseline' : (r.profile ?? 'main');
  const [idc, constraints] = profile === 'baseline' ? [0x42, 0xc0] : profile === 'high' ? [0x64, 0x00] : [0x4d, 0x40];
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return `avc1.${hex(idc)}${hex(constraints)}${hex(avcLevel(r, fps).idc)}`;
}

function even(n: number): number {
  return Math.floor(n / 2) * 2;
}
