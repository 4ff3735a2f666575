/** Small DOM helpers: the pages are plain HTML plus these, no framework. */

/** The element matching `selector`; throws with the selector when the page lacks it. */
export function $<T extends Element = HTMLElement>(selector: string, root: ParentNode = document): T {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`page is missing ${selector}`);
  return found;
}

/** Creates an element with attributes (`data-*` included) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

/** `room` and `token` (and any other parameter) from the page URL. */
export function queryParam(name: string): string | undefined {
  const value = new URLSearchParams(location.search).get(name);
  return value ? value : undefined;
}

/** Adds a listener and returns the function that removes it. */
export function listen<K extends keyof HTMLElementEventMap>(
  target: HTMLElement,
  type: K,
  listener: (ev: HTMLElementEventMap[K]) => void,
): () => void {
  target.addEventListener(type, listener);
  return () => target.removeEventListener(type, listener);
}

/** Stops a media element and lets go of its source (and the decoder behind it), then removes its figure. */
export function releaseVideo(video: HTMLVideoElement | undefined, figure: HTMLElement | undefined): void {
  if (video) {
    video.pause();
    video.removeAttribute('src');
    video.load();
  }
  figure?.remove();
}
