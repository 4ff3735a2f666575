/**
 * The presentation layout: while a screen is shared, the broadcast shows it large and the
 * speakers as a strip beside it. Pure geometry, like `layoutTiles` in composition.ts.
 */
import type { GridLayout, Tile } from './composition.ts';

/** Most speaker tiles the strip beside a shared screen shows; further speakers are left out. */
export const MAX_STRIP_TILES = 4;

/**
 * Tiles for a shared screen and `speakers` camera inputs: with no speaker the screen fills the
 * canvas; otherwise the screen takes the left three quarters (full height) and the speakers
 * stack in the right quarter, each cell 16:9, the stack centred vertically. The first tile is
 * the screen's, then one per shown speaker in input order. Every value is even (yuv420p).
 */
export function presentationTiles(speakers: number, canvas = { width: 1280, height: 720 }): GridLayout {
  const shown = Math.min(Math.max(speakers, 0), MAX_STRIP_TILES);
  if (shown === 0) return { name: 'presentation', cols: 1, rows: 1, tiles: [{ x: 0, y: 0, width: canvas.width, height: canvas.height }] };
  const stripW = even(canvas.width / 4);
  const screen: Tile = { x: 0, y: 0, width: canvas.width - stripW, height: canvas.height };
  const cellH = Math.min(even((stripW * 9) / 16), even(canvas.height / shown));
  const top = even((canvas.height - shown * cellH) / 2);
  const strip: Tile[] = Array.from({ length: shown }, (_, i) => ({ x: screen.width, y: top + i * cellH, width: stripW, height: cellH }));
  return { name: 'presentation', cols: 2, rows: shown, tiles: [screen, ...strip] };
}

function even(n: number): number {
  return Math.floor(n / 2) * 2;
}
