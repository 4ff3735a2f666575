/**
 * The soak's people: two WHIP presenters (plain RTCPeerConnection pages with Chromium's fake
 * camera and microphone), WHEP viewers, an hls.js viewer on the real /watch page, and a guest
 * whose watch page comes and goes, is promoted and demoted. `change()` applies the next stage
 * change of a fixed cycle.
 */
import type { BrowserContext, Page } from 'playwright-core';
import type { RunningService } from '../../test/support/service.ts';
import { playWhep, publishWhip } from '../../test/support/whip.ts';
import { waitFor } from '../../test/support/wait.ts';

/** The stage changes, applied one per interval, in this order, round and round. */
export const STAGE_CHANGES = ['presenter leaves', 'presenter joins', 'viewer joins', 'promote viewer', 'demote viewer', 'viewer leaves'] as const;
export type StageChange = (typeof STAGE_CHANGES)[number];

interface WhipPeer {
  page: Page;
  location: string;
  token: string;
}

interface WatchState {
  mode: string;
  hls: { state: string; currentTime: number } | null;
  participantId?: string;
  publishing?: string;
}

const watchState = (page: Page): Promise<WatchState> =>
  page.evaluate(() => {
    const w = (window as unknown as { __watch: { mode: string; hls: { state: string; currentTime: number } | null; participantId?: string; publishing?: string } }).__watch;
    return { mode: w.mode, hls: w.hls ? { state: w.hls.state, currentTime: w.hls.currentTime } : null, participantId: w.participantId, publishing: w.publishing };
  });

export class SoakStage {
  private presenterA: WhipPeer | undefined;
  private presenterB: WhipPeer | undefined;
  private readonly whepPages: Page[] = [];
  private hlsViewer: Page | undefined;
  private guest: Page | undefined;
  private nextChange = 0;
  private joins = 0;
  /** Uncaught errors in any page, `who: message`. */
  readonly pageErrors: string[] = [];

  private readonly context: BrowserContext;
  private readonly service: RunningService;
  private readonly room: string;
  private readonly blankUrl: string;

  constructor(context: BrowserContext, service: RunningService, room: string, blankUrl: string) {
    this.context = context;
    this.service = service;
    this.room = room;
    this.blankUrl = blankUrl;
  }

  private async newPage(who: string): Promise<Page> {
    const page = await this.context.newPage();
    page.on('pageerror', (err) => this.pageErrors.push(`${who}: ${err.message}`));
    return page;
  }

  private async publish(who: string): Promise<WhipPeer> {
    const page = await this.newPage(who);
    await page.goto(this.blankUrl);
    const token = await this.service.token(this.room, who, 'presenter');
    const session = await publishWhip(page, this.service, this.room, token);
    if (session.status !== 201 || !session.location) throw new Error(`${who}: WHIP → ${session.status}`);
    await waitFor(`${who} connected`, 20000, () => page.evaluate(() => (window as unknown as { __pub: RTCPeerConnection }).__pub.connectionState === 'connected'));
    return { page, location: session.location, token };
  }

  private async unpublish(peer: WhipPeer): Promise<void> {
    const url = new URL(peer.location, this.service.url).toString();
    const res = await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${peer.token}` } });
    await res.body?.cancel();
    await peer.page.close();
    if (res.status !== 200 && res.status !== 204) throw new Error(`WHIP DELETE → ${res.status}`);
  }

  /** Two presenters, then `whepViewers` WHEP viewers and one hls.js viewer once the broadcast plays. */
  async start(whepViewers: number): Promise<void> {
    this.presenterA = await this.publish('presenter-a');
    this.presenterB = await this.publish(`presenter-b-${this.joins++}`);
    for (let i = 0; i < whepViewers; i++) {
      const page = await this.newPage(`whep-${i}`);
      await page.goto(this.blankUrl);
      const session = await playWhep(page, this.service, this.room, await this.service.token(this.room, `whep-${i}`, 'moderator'));
      if (session.status !== 201) throw new Error(`whep-${i}: WHEP → ${session.status}`);
      this.whepPages.push(page);
    }
    this.hlsViewer = await this.openWatch('hls-viewer');
    await waitFor('the hls.js viewer playing', 60000, async () => (await watchState(this.hlsViewer!)).hls?.state === 'playing');
  }

  private async openWatch(identity: string): Promise<Page> {
    const page = await this.newPage(identity);
    // An instant user: accepts the promotion's consent prompt as soon as it shows.
    await page.addInitScript(() => {
      setInterval(() => {
        const prompt = document.querySelector<HTMLElement>('[data-testid="consent"]');
        if (prompt && !prompt.hidden) document.querySelector<HTMLButtonElement>('[data-testid="consent-accept"]')?.click();
      }, 50);
    });
    const token = await this.service.token(this.room, identity, 'viewer');
    await page.goto(`${this.service.url}/watch?room=${encodeURIComponent(this.room)}&token=${encodeURIComponent(token)}`);
    return page;
  }

  /** Applies the next change of the cycle; returns its name. Throws when the change fails. */
  async change(): Promise<StageChange> {
    const change = STAGE_CHANGES[this.nextChange++ % STAGE_CHANGES.length]!;
    switch (change) {
      case 'presenter leaves':
        if (this.presenterB) await this.unpublish(this.presenterB);
        this.presenterB = undefined;
        break;
      case 'presenter joins':
        this.presenterB ??= await this.publish(`presenter-b-${this.joins++}`);
        break;
      case 'viewer joins':
        this.guest ??= await this.openWatch(`guest-${this.joins++}`);
        break;
      case 'promote viewer':
      case 'demote viewer': {
        if (!this.guest) break;
        const guest = this.guest;
        const pid = (await waitFor('the guest joined', 20000, async () => (await watchState(guest)).participantId))!;
        const action = change === 'promote viewer' ? 'promote' : 'demote';
        const res = await this.service.api(`/api/rooms/${encodeURIComponent(this.room)}/participants/${encodeURIComponent(pid)}/${action}`, { method: 'POST' });
        await res.body?.cancel();
        if (res.status !== 200) throw new Error(`${action} → ${res.status}`);
        break;
      }
      case 'viewer leaves':
        await this.guest?.close();
        this.guest = undefined;
        break;
    }
    return change;
  }

  /** How many WHEP viewers decoded frames since the last call, and the hls.js viewer's state. */
  async viewers(): Promise<{ whepDecoding: number; hlsState: string; hlsTime: number }> {
    let whepDecoding = 0;
    for (const page of this.whepPages) {
      const frames = await page
        .evaluate(async () => {
          const pc = (window as unknown as { __sub?: RTCPeerConnection }).__sub;
          let n = 0;
          (await pc?.getStats())?.forEach((s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded ?? 0;
          });
          return n;
        })
        .catch(() => -1);
      const last = this.lastFrames.get(page) ?? 0;
      if (frames > last) whepDecoding++;
      this.lastFrames.set(page, frames);
    }
    const st = this.hlsViewer ? await watchState(this.hlsViewer).catch(() => undefined) : undefined;
    return { whepDecoding, hlsState: st?.hls?.state ?? 'none', hlsTime: st?.hls?.currentTime ?? 0 };
  }

  private readonly lastFrames = new WeakMap<Page, number>();

  async close(): Promise<void> {
    for (const peer of [this.presenterA, this.presenterB]) if (peer) await this.unpublish(peer).catch(() => {});
    for (const page of [...this.whepPages, this.hlsViewer, this.guest]) await page?.close().catch(() => {});
  }
}
