/**
 * Latency pattern: the sender paints its clock onto a canvas as a grid of big black/white
 * blocks, the receiver reads it back from the displayed video frame. Glass-to-glass latency is
 * then (receiver display time) − (sender paint time), both on the wall clock of one machine
 * (`performance.timeOrigin + performance.now()`).
 *
 * Layout: GRID_COLS × GRID_ROWS blocks (8 × 6 → 80 px blocks on 640 × 480). The four corner
 * blocks are references (top-left and bottom-right white, the other two black) so the decoder
 * picks its threshold from the frame itself; that survives codec gamma/contrast shifts and
 * any scaling. The other 44 blocks carry, MSB first in row-major order:
 *   bits  0..31  sender clock in ms, modulo 2^32 (the receiver restores the high bits from its
 *                own clock; latency must stay below 2^31 ms)
 *   bits 32..35  frame counter modulo 16 (lets the receiver count skipped frames)
 *   bits 36..43  CRC-8 (poly 0x07) over the 36 bits above
 *
 * The bit layout, the renderer into an RGBA buffer and the decoder are pure functions (the unit
 * test runs them in Node). The canvas sender and the video-frame reader below them use the DOM
 * and only run in a page.
 */

export const GRID_COLS = 8;
export const GRID_ROWS = 6;
export const PATTERN_WIDTH = 640;
export const PATTERN_HEIGHT = 480;
export const TIMESTAMP_BITS = 32;
export const COUNTER_BITS = 4;
export const CRC_BITS = 8;
export const DATA_BITS = TIMESTAMP_BITS + COUNTER_BITS + CRC_BITS; // 44
/** Minimum luma gap between white and black references for a frame to count as readable. */
export const MIN_CONTRAST = 60;

/** Reference blocks: index → colour (true = white). */
const REFERENCES = new Map<number, boolean>([
  [0, true],
  [GRID_COLS - 1, false],
  [(GRID_ROWS - 1) * GRID_COLS, false],
  [GRID_ROWS * GRID_COLS - 1, true],
]);

/** Indices (row-major) of the blocks that carry data, in bit order. */
export const DATA_BLOCKS: readonly number[] = Array.from({ length: GRID_COLS * GRID_ROWS }, (_, i) => i).filter(
  (i) => !REFERENCES.has(i),
);
if (DATA_BLOCKS.length !== DATA_BITS) throw new Error('latency-pattern: layout does not hold the payload');

export interface PatternPayload {
  /** Sender clock, ms, any non-negative integer; only the low 32 bits travel. */
  timestampMs: number;
  /** Frame counter; only the low 4 bits travel. */
  counter: number;
}

export interface DecodedPattern {
  /** Low 32 bits of the sender clock (ms). */
  timestampLow32: number;
  /** Frame counter modulo 16. */
  counter: number;
  /** Luma gap between white and black references (0..255); a quality hint. */
  contrast: number;
}

/** CRC-8, polynomial x^8+x^2+x+1 (0x07), init 0, over a bit array (MSB first). */
export function crc8Bits(bits: readonly boolean[]): number {
  let crc = 0;
  for (const bit of bits) {
    const top = ((crc >> 7) & 1) ^ (bit ? 1 : 0);
    crc = (crc << 1) & 0xff;
    if (top) crc ^= 0x07;
  }
  return crc;
}

function pushBits(out: boolean[], value: number, width: number): void {
  for (let i = width - 1; i >= 0; i--) out.push(Math.floor(value / 2 ** i) % 2 === 1);
}

function readBits(bits: readonly boolean[], from: number, width: number): number {
  let v = 0;
  for (let i = 0; i < width; i++) v = v * 2 + (bits[from + i] ? 1 : 0);
  return v;
}

/** The 44 data bits for a payload. */
export function encodeBits(payload: PatternPayload): boolean[] {
  const low = ((payload.timestampMs % 2 ** 32) + 2 ** 32) % 2 ** 32;
  const bits: boolean[] = [];
  pushBits(bits, Math.floor(low), TIMESTAMP_BITS);
  pushBits(bits, payload.counter & 0xf, COUNTER_BITS);
  pushBits(bits, crc8Bits(bits), CRC_BITS);
  return bits;
}

/** Checks the CRC of 44 data bits; null if it fails. */
export function decodeBits(bits: readonly boolean[]): Omit<DecodedPattern, 'contrast'> | null {
  if (bits.length !== DATA_BITS) return null;
  const body = bits.slice(0, TIMESTAMP_BITS + COUNTER_BITS);
  if (crc8Bits(body) !== readBits(bits, TIMESTAMP_BITS + COUNTER_BITS, CRC_BITS)) return null;
  return { timestampLow32: readBits(bits, 0, TIMESTAMP_BITS), counter: readBits(bits, TIMESTAMP_BITS, COUNTER_BITS) };
}

/** Colour of every block (row-major, true = white), references included. */
export function blockColours(payload: PatternPayload): boolean[] {
  const bits = encodeBits(payload);
  const colours = new Array<boolean>(GRID_COLS * GRID_ROWS).fill(false);
  for (const [i, white] of REFERENCES) colours[i] = white;
  DATA_BLOCKS.forEach((block, bit) => (colours[block] = bits[bit]!));
  return colours;
}

/** Pixel rectangle of block `index` on a width × height surface. */
export function blockRect(index: number, width: number, height: number): { x: number; y: number; w: number; h: number } {
  const col = index % GRID_COLS;
  const row = Math.floor(index / GRID_COLS);
  const x = Math.round((col * width) / GRID_COLS);
  const y = Math.round((row * height) / GRID_ROWS);
  return { x, y, w: Math.round(((col + 1) * width) / GRID_COLS) - x, h: Math.round(((row + 1) * height) / GRID_ROWS) - y };
}

/** Paints a payload into an RGBA buffer (what a canvas ImageData holds). */
export function renderPattern(payload: PatternPayload, width: number, height: number, out?: Uint8ClampedArray): Uint8ClampedArray {
  const data = out ?? new Uint8ClampedArray(width * height * 4);
  blockColours(payload).forEach((white, i) => {
    const r = blockRect(i, width, height);
    const v = white ? 255 : 0;
    for (let y = r.y; y < r.y + r.h; y++) {
      for (let x = r.x; x < r.x + r.w; x++) {
        const o = (y * width + x) * 4;
        data[o] = data[o + 1] = data[o + 2] = v;
        data[o + 3] = 255;
      }
    }
  });
  return data;
}

/** Mean luma of the central half (each way) of every block. */
export function blockLumas(data: ArrayLike<number>, width: number, height: number): number[] {
  const lumas: number[] = [];
  for (let i = 0; i < GRID_COLS * GRID_ROWS; i++) {
    const r = blockRect(i, width, height);
    const x0 = r.x + Math.floor(r.w / 4);
    const x1 = Math.max(x0 + 1, r.x + Math.ceil((3 * r.w) / 4));
    const y0 = r.y + Math.floor(r.h / 4);
    const y1 = Math.max(y0 + 1, r.y + Math.ceil((3 * r.h) / 4));
    let sum = 0;
    let n = 0;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const o = (y * width + x) * 4;
        sum += (data[o]! + 2 * data[o + 1]! + data[o + 2]!) / 4;
        n++;
      }
    }
    lumas.push(n ? sum / n : 0);
  }
  return lumas;
}

/**
 * Reads a pattern from an RGBA buffer of any size (the whole frame, scaled). Null when the
 * references lack contrast or the CRC fails.
 */
export function decodePattern(data: ArrayLike<number>, width: number, height: number): DecodedPattern | null {
  if (width < GRID_COLS || height < GRID_ROWS || data.length < width * height * 4) return null;
  const lumas = blockLumas(data, width, height);
  let white = 0;
  let black = 0;
  let nw = 0;
  let nb = 0;
  for (const [i, isWhite] of REFERENCES) {
    if (isWhite) {
      white += lumas[i]!;
      nw++;
    } else {
      black += lumas[i]!;
      nb++;
    }
  }
  white /= nw;
  black /= nb;
  const contrast = white - black;
  if (contrast < MIN_CONTRAST) return null;
  const threshold = (white + black) / 2;
  const decoded = decodeBits(DATA_BLOCKS.map((block) => lumas[block]! > threshold));
  return decoded ? { ...decoded, contrast: Math.round(contrast) } : null;
}

/**
 * Restores a full ms timestamp from its low 32 bits, taking the value closest to (and normally
 * just before) `referenceMs`, the receiver's clock.
 */
export function restoreTimestamp(low32: number, referenceMs: number): number {
  const refLow = ((Math.floor(referenceMs) % 2 ** 32) + 2 ** 32) % 2 ** 32;
  let diff = refLow - low32; // how far the stamp lies behind the reference
  if (diff > 2 ** 31) diff -= 2 ** 32;
  if (diff < -(2 ** 31)) diff += 2 ** 32;
  return Math.floor(referenceMs) - diff;
}

/** Wall clock shared by every page of one machine, ms. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

// ---------------------------------------------------------------------------------------------
// Browser side.

/**
 * Draws the pattern from a `vw`×`vh` frame into `w`×`h` of `ctx` when the frame letterboxes it
 * (the HLS program puts the 4:3 pattern in the middle of a 16:9 picture): the centred 4:3 rectangle.
 */
export function drawLetterboxedPattern(ctx: CanvasRenderingContext2D, source: CanvasImageSource, vw: number, vh: number, w: number, h: number): void {
  const scale = Math.min(vw / PATTERN_WIDTH, vh / PATTERN_HEIGHT);
  const cw = PATTERN_WIDTH * scale;
  const ch = PATTERN_HEIGHT * scale;
  ctx.drawImage(source, (vw - cw) / 2, (vh - ch) / 2, cw, ch, 0, 0, w, h);
}

export interface PatternSender {
  canvas: HTMLCanvasElement;
  /** The canvas video track (30 fps). */
  stream: MediaStream;
  /** Frames painted so far. */
  readonly frames: number;
  stop(): void;
}

/**
 * Paints the pattern at `fps` onto a 640 × 480 canvas and captures it. Paints in
 * requestAnimationFrame (so the frame is captured right after it is stamped), with a timer
 * fallback for pages whose rAF does not run.
 */
export function startPatternSender(opts: { fps?: number; canvas?: HTMLCanvasElement } = {}): PatternSender {
  const fps = opts.fps ?? 30;
  const canvas = opts.canvas ?? document.createElement('canvas');
  canvas.width = PATTERN_WIDTH;
  canvas.height = PATTERN_HEIGHT;
  const ctx = canvas.getContext('2d', { alpha: false })!;
  const interval = 1000 / fps;
  let counter = 0;
  let lastPaint = -Infinity;
  let stopped = false;

  const paint = () => {
    const now = performance.now();
    if (now - lastPaint < interval - 4) return;
    lastPaint = now;
    const colours = blockColours({ timestampMs: Math.floor(performance.timeOrigin + now), counter: counter++ });
    colours.forEach((white, i) => {
      const r = blockRect(i, PATTERN_WIDTH, PATTERN_HEIGHT);
      ctx.fillStyle = white ? '#fff' : '#000';
      ctx.fillRect(r.x, r.y, r.w, r.h);
    });
  };
  paint();
  const stream = canvas.captureStream(fps);
  const raf = () => {
    if (stopped) return;
    paint();
    requestAnimationFrame(raf);
  };
  requestAnimationFrame(raf);
  const fallback = setInterval(() => {
    if (performance.now() - lastPaint > interval * 1.5) paint();
  }, interval / 2);

  return {
    canvas,
    stream,
    get frames() {
      return counter;
    },
    stop() {
      stopped = true;
      clearInterval(fallback);
      for (const t of stream.getTracks()) t.stop();
    },
  };
}

export interface LatencySample {
  /** Receiver display time − sender paint time, ms. */
  latencyMs: number;
  /** Receiver wall clock when the frame was (expected to be) displayed. */
  displayedAt: number;
  counter: number;
  /**
   * RTP timestamp of the presented frame (metadata.rtpTimestamp), unwrapped, in ms (90 kHz
   * clock), when the source is WebRTC. Used to drop samples whose pixels came from another
   * frame than the one the metadata describes (see checkRtpConsistency).
   */
  rtpMs?: number;
  /** Diagnostics, receiver wall clock: metadata.presentationTime and when the callback ran. */
  presentedAt?: number;
  callbackAt?: number;
  /**
   * When the frame's last packet reached the receiver less the sender's paint time, ms
   * (metadata.receiveTime, WebRTC sources only): the way there, before jitter buffer, lip-sync
   * and display refresh.
   */
  arrivalMs?: number;
}

export interface LatencyStats {
  samples: LatencySample[];
  /** Frames presented whose pattern decoded. */
  decoded: number;
  /** Frames presented whose pattern did not decode (CRC or contrast failure). */
  failed: number;
  /** Same stamp seen again (a repeated frame); not counted as a sample. */
  repeated: number;
  /** Frames the counter says were skipped between decoded ones. */
  skipped: number;
}

export interface PatternReader {
  readonly stats: LatencyStats;
  /** Drops samples so far (end of warm-up). */
  reset(): void;
  stop(): void;
}

/**
 * Reads the pattern from every frame `video` presents (requestVideoFrameCallback) and records
 * latency against `metadata.expectedDisplayTime`.
 */
export function startPatternReader(
  video: HTMLVideoElement,
  opts: {
    sampleWidth?: number;
    sampleHeight?: number;
    /**
     * Read only the centred rectangle with the pattern's aspect ratio: the HLS program
     * letterboxes the 4:3 pattern into 16:9. Default false (the whole frame).
     */
    letterboxed?: boolean;
  } = {},
): PatternReader {
  const w = opts.sampleWidth ?? 128;
  const h = opts.sampleHeight ?? 96;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const fresh = (): LatencyStats => ({ samples: [], decoded: 0, failed: 0, repeated: 0, skipped: 0 });
  let stats = fresh();
  let lastStamp = -1;
  let lastCounter = -1;
  let rtpBase: number | undefined;
  let rtpUnwrapped = 0;
  let lastRtp = 0;
  let stopped = false;
  let handle = 0;

  const onFrame = (now: DOMHighResTimeStamp, metadata: VideoFrameCallbackMetadata) => {
    if (stopped) return;
    const callbackAt = wallClock();
    handle = video.requestVideoFrameCallback(onFrame);
    const displayedAt = performance.timeOrigin + (metadata.expectedDisplayTime || now);
    if (opts.letterboxed) drawLetterboxedPattern(ctx, video, metadata.width || video.videoWidth, metadata.height || video.videoHeight, w, h);
    else ctx.drawImage(video, 0, 0, w, h);
    const decoded = decodePattern(ctx.getImageData(0, 0, w, h).data, w, h);
    if (!decoded) {
      stats.failed++;
      return;
    }
    const sentAt = restoreTimestamp(decoded.timestampLow32, displayedAt);
    if (sentAt === lastStamp) {
      stats.repeated++;
      return;
    }
    if (lastCounter >= 0) stats.skipped += (decoded.counter - lastCounter + 15) % 16;
    lastStamp = sentAt;
    lastCounter = decoded.counter;
    stats.decoded++;
    const sample: LatencySample = {
      latencyMs: displayedAt - sentAt,
      displayedAt,
      counter: decoded.counter,
      presentedAt: performance.timeOrigin + metadata.presentationTime,
      callbackAt: callbackAt,
    };
    if (typeof metadata.receiveTime === 'number' && metadata.receiveTime > 0) sample.arrivalMs = performance.timeOrigin + metadata.receiveTime - sentAt;
    if (typeof metadata.rtpTimestamp === 'number') {
      if (rtpBase === undefined) {
        rtpBase = metadata.rtpTimestamp;
        lastRtp = metadata.rtpTimestamp;
      }
      rtpUnwrapped += ((metadata.rtpTimestamp - lastRtp + 2 ** 31) >>> 0) - 2 ** 31;
      lastRtp = metadata.rtpTimestamp;
      sample.rtpMs = rtpUnwrapped / 90;
    }
    stats.samples.push(sample);
  };
  handle = video.requestVideoFrameCallback(onFrame);

  return {
    get stats() {
      return stats;
    },
    reset() {
      stats = fresh();
      lastCounter = -1;
    },
    stop() {
      stopped = true;
      video.cancelVideoFrameCallback(handle);
    },
  };
}

/**
 * Drops samples whose decoded pixels do not belong to the frame the metadata describes.
 * Under load Chromium can hand drawImage() a newer frame than the one requestVideoFrameCallback
 * reports, which makes latency look a frame (or more) shorter, even negative. A frame's RTP
 * timestamp and its painted clock advance together, so (rtpMs − sender clock) is constant up
 * to capture jitter; samples off the median by more than `toleranceMs` are mismatched.
 * Samples without rtpMs are kept as they are.
 */
export function checkRtpConsistency(
  samples: readonly LatencySample[],
  toleranceMs = 13,
): { kept: LatencySample[]; mismatched: number } {
  const offsets = samples.filter((s) => s.rtpMs !== undefined).map((s) => s.rtpMs! - (s.displayedAt - s.latencyMs));
  if (!offsets.length) return { kept: [...samples], mismatched: 0 };
  const median = percentile(offsets, 50);
  const kept = samples.filter((s) => s.rtpMs === undefined || Math.abs(s.rtpMs - (s.displayedAt - s.latencyMs) - median) <= toleranceMs);
  return { kept, mismatched: samples.length - kept.length };
}

/** Nearest-rank percentile of a list of numbers (p in 0..100). NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}
