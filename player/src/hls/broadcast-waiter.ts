/**
 * Waits until a room's broadcast is live: the multivariant playlist exists (404 before the
 * first presenter goes live) and its first media playlist has no EXT-X-ENDLIST (an ended
 * broadcast keeps being served until the next one starts). Asks again every `intervalMs`.
 */
export type BroadcastAvailability = 'missing' | 'ended' | 'live';

export interface WaitOptions {
  intervalMs: number;
  signal: AbortSignal;
  /** Called with every answer that is not `live`, so the page can say why it waits. */
  onWaiting?: (why: Exclude<BroadcastAvailability, 'live'>) => void;
  /** The URL actually requested for a playlist URL (a private broadcast adds its playback token). Default: as is. */
  authorize?: (url: string) => string;
}

export async function probeBroadcast(src: string, signal?: AbortSignal, authorize: (url: string) => string = (url) => url): Promise<BroadcastAvailability> {
  const multivariant = await fetch(authorize(src), { cache: 'no-store', signal });
  if (!multivariant.ok) return 'missing';
  const text = await multivariant.text();
  const variant = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l.length > 0 && !l.startsWith('#'));
  if (!variant) return text.includes('#EXT-X-TARGETDURATION') ? (text.includes('#EXT-X-ENDLIST') ? 'ended' : 'live') : 'missing';
  const media = await fetch(authorize(new URL(variant, new URL(src, location.href)).toString()), { cache: 'no-store', signal });
  if (!media.ok) return 'missing';
  return (await media.text()).includes('#EXT-X-ENDLIST') ? 'ended' : 'live';
}

/** Resolves once the broadcast is live; rejects with the abort reason when `signal` aborts. */
export async function waitForLiveBroadcast(src: string, options: WaitOptions): Promise<void> {
  const { signal } = options;
  for (;;) {
    signal.throwIfAborted();
    let availability: BroadcastAvailability;
    try {
      availability = await probeBroadcast(src, signal, options.authorize);
    } catch {
      if (signal.aborted) throw signal.reason;
      // Network trouble looks like no broadcast from here; keep asking.
      availability = 'missing';
    }
    if (availability === 'live') return;
    options.onWaiting?.(availability);
    await sleep(options.intervalMs, signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
