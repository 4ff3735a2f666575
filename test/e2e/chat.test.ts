/**
 * Chat and the audience count on the player's pages, in Chromium against the spawned service:
 * a viewer (watch), a presenter (studio, live) and a moderator (console) chat through the
 * panel's input; a late joiner sees the history; the moderator's delete and mute (and unmute)
 * show on every page; XSS payloads sent from a page and through the API are shown as literal
 * text everywhere and run nothing; the studio's and the console's audience count follows a
 * viewer joining and leaving.
 *
 * Chat needs no media beyond the studio going live, so this runs on the embedded engine only.
 *
 * Run: npm run build:player && node scripts/test.mjs test/e2e/chat.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { clickGoLive, openPlayerPage, usePlayerRoom, waitForStatus } from '../support/pages.ts';

const XSS_IMG = '<img src=x onerror="window.__xss=1">';
const XSS_SCRIPT = '<script>window.__xss=2</script>';
const XSS_API = '<svg onload="window.__xss=3"></svg><img src=x onerror="window.__xss=4">';
const TIMEOUT = 20000;

describe('chat and audience on the pages [embedded]', () => {
  const ctx = usePlayerRoom({ engine: 'embedded', env: { BROADCAST_AUTO_START: 'false', CHAT_RATE_BURST: '20' } });
  const pages: Record<string, Page> = {};

  /** Types `text` into the page's chat box and sends it; waits until the box is empty again (accepted). */
  async function sendChat(page: Page, text: string): Promise<void> {
    await page.locator('[data-testid="chat-input"]').fill(text);
    await page.locator('[data-testid="chat-send"]').click();
    await page.waitForFunction(() => (document.querySelector('[data-testid="chat-input"]') as HTMLInputElement).value === '', undefined, { timeout: TIMEOUT });
  }

  /** Texts of the page's chat messages, in order, as the page shows them. */
  const chatTexts = (page: Page) => page.$$eval('[data-testid="chat-message"] [data-testid="chat-text"]', (els) => els.map((e) => e.textContent ?? ''));

  async function waitForChat(page: Page, label: string, predicate: (texts: string[]) => boolean, what: string): Promise<void> {
    const deadline = Date.now() + TIMEOUT;
    let texts: string[] = [];
    while (Date.now() < deadline) {
      texts = await chatTexts(page);
      if (predicate(texts)) return;
      await page.waitForTimeout(200);
    }
    assert.fail(`${label}: ${what}; chat shows ${JSON.stringify(texts)}; page errors: ${ctx.pageErrors.join(' | ') || 'none'}`);
  }

  const everyPage = () => Object.entries(pages);

  it('a viewer, a presenter and a moderator chat; every page shows every message with its author', async () => {
    pages.console = await openPlayerPage(ctx, '/console', 'mod', 'moderator');
    await waitForStatus(pages.console, 'ready', ctx.pageErrors);
    pages.watch = await openPlayerPage(ctx, '/watch', 'viewer-1', 'viewer');
    await pages.watch.locator('[data-testid="chat-input"]:not([disabled])').waitFor({ timeout: TIMEOUT });
    pages.studio = await openPlayerPage(ctx, '/studio', 'pres', 'presenter');
    await clickGoLive(pages.studio);
    await waitForStatus(pages.studio, 'live', ctx.pageErrors, 30000);

    await sendChat(pages.watch, 'hello from the audience');
    await sendChat(pages.studio, 'hello from the stage');
    await sendChat(pages.console, 'welcome, everyone');
    const expected = ['hello from the audience', 'hello from the stage', 'welcome, everyone'];
    for (const [label, page] of everyPage()) {
      await waitForChat(page, label, (t) => expected.every((e) => t.includes(e)), 'all three messages');
      const authors = await page.$$eval('[data-testid="chat-message"]', (els) => els.map((e) => `${e.getAttribute('data-identity')}/${e.getAttribute('data-role')}`));
      assert.deepEqual(authors.slice(0, 3), ['viewer-1/viewer', 'pres/presenter', 'mod/moderator'], label);
    }
  });

  it('XSS payloads from a page and from the API are shown as literal text everywhere and run nothing', async () => {
    await sendChat(pages.watch!, XSS_IMG);
    await sendChat(pages.studio!, XSS_SCRIPT);
    const res = await ctx.svc.api(`/api/rooms/${ctx.room}/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: XSS_API }) });
    assert.equal(res.status, 201);
    for (const [label, page] of everyPage()) {
      await waitForChat(page, label, (t) => [XSS_IMG, XSS_SCRIPT, XSS_API].every((p) => t.includes(p)), 'the payloads as text');
      // Give an image's error handler (it would fire on the failed load of `x`) time to run.
      await page.waitForTimeout(500);
      const verdict = await page.evaluate(() => ({
        xss: (window as unknown as { __xss?: unknown }).__xss,
        injected: document.querySelectorAll('[data-testid="chat"] img, [data-testid="chat"] script, [data-testid="chat"] svg').length,
      }));
      assert.deepEqual(verdict, { xss: undefined, injected: 0 }, label);
    }
  });

  it('a late joiner sees the history', async () => {
    pages.late = await openPlayerPage(ctx, '/watch', 'viewer-2', 'viewer');
    await waitForChat(pages.late, 'late', (t) => t[0] === 'hello from the audience' && t.includes(XSS_API), 'the history');
    assert.equal(await pages.late.evaluate(() => (window as unknown as { __xss?: unknown }).__xss), undefined);
  });

  it('the audience count in the studio and the console follows a viewer joining and leaving', async () => {
    const total = (page: Page) => page.locator('[data-testid="audience"]').getAttribute('data-total');
    const waitTotal = async (page: Page, label: string, n: number) => {
      try {
        await page.waitForFunction((want) => document.querySelector('[data-testid="audience"]')?.getAttribute('data-total') === want, String(n), { timeout: TIMEOUT });
      } catch {
        assert.fail(`${label}: audience total ${await total(page)}, expected ${n}`);
      }
    };
    // mod, viewer-1, pres, viewer-2.
    await waitTotal(pages.studio!, 'studio', 4);
    await waitTotal(pages.console!, 'console', 4);
    assert.equal(await pages.console!.locator('[data-testid="audience"]').getAttribute('data-viewer'), '2');
    await pages.late!.close();
    delete pages.late;
    await waitTotal(pages.studio!, 'studio', 3);
    await waitTotal(pages.console!, 'console', 3);
    assert.match((await pages.studio!.locator('[data-testid="audience"]').textContent()) ?? '', /^3 here · 1 presenter · 1 moderator · 1 viewer$/);
  });

  it("the moderator deletes a message and mutes a viewer's chat from the console; every page shows it", async () => {
    const consolePage = pages.console!;
    const row = consolePage.locator('[data-testid="chat-message"]', { hasText: 'hello from the audience' });
    await row.locator('[data-testid="chat-delete"]').click();
    for (const [label, page] of everyPage()) await waitForChat(page, label, (t) => !t.includes('hello from the audience') && t.includes('hello from the stage'), 'the message gone');

    await consolePage.locator('[data-testid="chat-message"][data-identity="viewer-1"] [data-testid="chat-mute"]').first().click();
    const watch = pages.watch!;
    await watch.locator('[data-testid="chat-muted"]:not([hidden])').waitFor({ timeout: TIMEOUT });
    assert.equal(await watch.locator('[data-testid="chat-input"]').isDisabled(), true, 'a muted viewer cannot type');
    await consolePage.locator('[data-testid="chat-message"][data-identity="viewer-1"] [data-testid="chat-unmute"]').first().waitFor({ timeout: TIMEOUT });
    assert.equal(await pages.studio!.locator('[data-testid="chat-mute"]').count(), 0, 'only moderators get moderation controls');
    assert.equal(await watch.locator('[data-testid="chat-mute"]').count(), 0);
    await sendChat(pages.studio!, 'the stage still chats');
    for (const [label, page] of everyPage()) await waitForChat(page, label, (t) => t.includes('the stage still chats'), 'chat goes on');

    await consolePage.locator('[data-testid="chat-message"][data-identity="viewer-1"] [data-testid="chat-unmute"]').first().click();
    await watch.locator('[data-testid="chat-muted"][hidden]').waitFor({ state: 'attached', timeout: TIMEOUT });
    await watch.locator('[data-testid="chat-input"]:not([disabled])').waitFor({ timeout: TIMEOUT });
    await sendChat(watch, 'thanks for unmuting');
    for (const [label, page] of everyPage()) await waitForChat(page, label, (t) => t.includes('thanks for unmuting'), 'the viewer chats again');
    assert.deepEqual(ctx.pageErrors, []);
  });
});
