/**
 * HLS continuity for the soak: follows one rendition's live media playlist as an LL-HLS player
 * does (a blocking reload for the next part, `_HLS_msn`/`_HLS_part`) and records when each new
 * part shows up. A gap is the time between two consecutive new parts; the soak judges the gaps
 * against the moments the stage changed.
 */
import { sleep } from '../../test/support/wait.ts';

/** Gaps shorter than this are not kept (a part is 0.2 s; a blocking reload adds a little). */
const GAP_KEPT_MS = 1000;

export interface HlsGap {
  /** Wall clock (ms) of the last part before the gap. */
  from: number;
  to: number;
}

export interface PlaylistPosition {
  mediaSequence: number;
  /** msn of the segment the newest part belongs to. */
  msn: number;
  /** Parts of `msn` listed so far. */
  parts: number;
  discontinuities: number;
  ended: boolean;
}

/** The newest position in an LL-HLS media playlist (parts after the last full segment). */
export function playlistPosition(text: string): PlaylistPosition {
  let mediaSequence = 0;
  let segments = 0;
  let trailingParts = 0;
  let discontinuities = 0;
  let ended = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) mediaSequence = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:')) discontinuities = Number(line.slice(30));
    else if (line.startsWith('#EXT-X-PART:')) trailingParts++;
    else if (line.startsWith('#EXT-X-ENDLIST')) ended = true;
    else if (line !== '' && !line.startsWith('#')) {
      segments++;
      trailingParts = 0;
    }
  }
  return { mediaSequence, msn: mediaSequence + segments, parts: trailingParts, discontinuities, ended };
}

export class HlsFollower {
  /** Wall clock (ms) each new part was first seen. */
  private lastPartAt = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  readonly gaps: HlsGap[] = [];
  partsSeen = 0;
  errors = 0;
  position: PlaylistPosition | undefined;

  private readonly baseUrl: string;
  private readonly room: string;

  constructor(baseUrl: string, room: string) {
    this.baseUrl = baseUrl;
    this.room = room;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** The gap still open now (ms since the last new part), 0 before the first part. */
  openGapMs(now = Date.now()): number {
    return this.lastPartAt ? now - this.lastPartAt : 0;
  }

  private async run(): Promise<void> {
    let mediaUrl: string | undefined;
    let next: { msn: number; part: number } | undefined;
    while (!this.stopped) {
      try {
        mediaUrl ??= await this.firstRendition();
        if (!mediaUrl) {
          await sleep(500);
          continue;
        }
        const query = next ? `?_HLS_msn=${next.msn}&_HLS_part=${next.part}` : '';
        const res = await fetch(`${mediaUrl}${query}`, { signal: AbortSignal.timeout(10000) });
        const text = await res.text();
        if (res.status !== 200) {
          // 400 (the sequence restarted, or we asked too far ahead), 404, 503: reload plainly.
          if (res.status !== 404) this.errors++;
          next = undefined;
          await sleep(200);
          continue;
        }
        const pos = playlistPosition(text);
        this.record(pos);
        if (pos.ended) {
          next = undefined;
          await sleep(500);
          continue;
        }
        next = { msn: pos.msn, part: pos.parts };
      } catch {
        this.errors++;
        next = undefined;
        await sleep(500);
      }
    }
  }

  private record(pos: PlaylistPosition): void {
    const prev = this.position;
    const advanced = !prev || pos.msn !== prev.msn || pos.parts !== prev.parts || pos.discontinuities !== prev.discontinuities;
    this.position = pos;
    if (!advanced || pos.parts === 0) return;
    const now = Date.now();
    // Parts come every 0.2 s; only the gaps worth judging are kept.
    if (this.lastPartAt && now - this.lastPartAt > GAP_KEPT_MS) this.gaps.push({ from: this.lastPartAt, to: now });
    this.lastPartAt = now;
    this.partsSeen++;
  }

  private async firstRendition(): Promise<string | undefined> {
    const url = `${this.baseUrl}/hls/${encodeURIComponent(this.room)}/index.m3u8`;
    const res = await fetch(url, { signal: AbortSignal.timeout(10000) });
    const text = await res.text();
    if (res.status !== 200) return undefined;
    const uri = text.split('\n').find((l) => l !== '' && !l.startsWith('#'));
    return uri ? new URL(uri.trim(), url).toString() : undefined;
  }
}
