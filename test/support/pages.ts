import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { Page } from 'playwright-core';
import { launchChromium, type LaunchedChromium } from './chromium.ts';
import { startService, type RunningService, type StartServiceOptions } from './service.ts';
import { sleep } from './wait.ts';

/** A spawned service, Chromium and one room, for tests that open the player's pages. */
export interface PlayerRoom {
  svc: RunningService;
  chromium: LaunchedChromium;
  room: string;
  /** Pages opened so far; closed in `after`. */
  pages: Page[];
  /** `identity: message` for every uncaught page error (and console error, if asked). */
  pageErrors: string[];
}

/**
 * One PlayerRoom for the enclosing `describe`: started in `before` (the service with `env`
 * and `options`, e.g. `{ engine }`; Chromium with `chromiumArgs` besides its usual flags); in `after` its pages and Chromium are closed and the
 * service is stopped, which must exit 0. Read its fields inside tests (they are set once
 * `before` has run).
 */
export function usePlayerRoom(options: StartServiceOptions & { env?: Record<string, string>; chromiumArgs?: string[] } = {}): PlayerRoom {
  const ctx = { pages: [], pageErrors: [] } as unknown as PlayerRoom;
  const { env = {}, chromiumArgs = [], ...serviceOptions } = options;
  before(async () => {
    ctx.svc = await startService(env, serviceOptions);
    ctx.chromium = await launchChromium(chromiumArgs);
    ctx.room = await ctx.svc.createRoom();
  });
  after(async () => {
    for (const page of ctx.pages) await page.close().catch(() => {});
    await ctx.chromium?.close();
    const code = await ctx.svc?.stop();
    assert.equal(code, 0, 'service exits 0 on SIGTERM');
  });
  return ctx;
}

/**
 * Chromium's console line for a blocking playlist reload (`_HLS_msn`) that got 503: the origin's
 * answer when the part asked for has not come within three target durations, as when a stage
 * change replaces the transcoder on a loaded machine (README, Public contract). hls.js retries
 * it; the tests judge playback by what plays, so this line is not a page error.
 */
function blockingReloadTimedOut(text: string, url: string): boolean {
  return /status of 503\b/.test(text) && /\/hls\/[^?]+\.m3u8\?(?:.*&)?_HLS_msn=/.test(url);
}

/**
 * Opens `path` (e.g. `/watch`) of the player in a new page, for the room and a fresh token of
 * `identity` with `role`; asserts it is served. Page errors (and, with `consoleErrors`,
 * console errors) go to `ctx.pageErrors`.
 */
export async function openPlayerPage(
  ctx: PlayerRoom,
  path: string,
  identity: string,
  role: 'presenter' | 'moderator' | 'viewer',
  { consoleErrors = false }: { consoleErrors?: boolean } = {},
): Promise<Page> {
  const token = await ctx.svc.token(ctx.room, identity, role);
  const page = await ctx.chromium.context.newPage();
  ctx.pages.push(page);
  page.on('pageerror', (err) => ctx.pageErrors.push(`${identity}: ${err.message}`));
  if (consoleErrors) {
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !blockingReloadTimedOut(msg.text(), msg.location().url)) ctx.pageErrors.push(`${identity}: ${msg.text()}`);
    });
  }
  const res = await page.goto(`${ctx.svc.url}${path}?room=${encodeURIComponent(ctx.room)}&token=${encodeURIComponent(token)}`);
  assert.equal(res?.status(), 200, `${path} is served`);
  return page;
}

/** The text of the player's status line. */
export const pageStatus = (page: Page) => page.locator('[data-testid="status"]').textContent();

/** Clicks the studio's Go live button once it is enabled (the camera is up); the caller waits for `live`. */
export async function clickGoLive(studio: Page): Promise<void> {
  const button = studio.locator('[data-testid="go-live"]');
  await button.waitFor();
  await studio.waitForFunction(() => !(document.querySelector('[data-testid="go-live"]') as HTMLButtonElement).disabled);
  await button.click();
}

/** Waits until the status line reads `expected`; fails with the status and `pageErrors`. */
export async function waitForStatus(page: Page, expected: string, pageErrors: string[], timeout = 20000): Promise<void> {
  try {
    await page.waitForFunction((text) => document.querySelector('[data-testid="status"]')?.textContent === text, expected, { timeout });
  } catch {
    assert.fail(`status is "${await pageStatus(page)}", expected "${expected}"; page errors: ${pageErrors.join(' | ') || 'none'}`);
  }
}

/**
 * Polls `fn` in the page until it resolves truthy; false when `timeout` passes first. Use it for
 * predicates that await (tiles(), getStats()): Playwright's waitForFunction takes the promise an
 * async predicate returns as a truthy value and resolves at once, without waiting.
 */
export async function pollPage<A>(page: Page, fn: (arg: A) => Promise<boolean>, arg: A, timeout: number, intervalMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeout;
  for (;;) {
    // The argument is plain JSON here, which Playwright passes through unchanged (its Unboxed<A> is A).
    if (await page.evaluate(fn as (arg: unknown) => Promise<boolean>, arg as unknown).catch(() => false)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}
