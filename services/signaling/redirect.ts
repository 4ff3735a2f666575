import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { CloseCodes } from './protocol.ts';

/** A redirected socket that never sends its `join` is closed after this long, ms. */
const REDIRECT_WAIT_MS = 10_000;

/**
 * The socket reached a node that does not host its room (cluster): accept it, answer its
 * `join` with `{ type: 'redirect', url }` (the owner's `/ws`) and close it with 4302. A
 * browser cannot read the HTTP status of a refused upgrade, so the redirect has to be a
 * message. The token was checked before, so only a room's own participants learn the URL.
 */
export function redirectSocket(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, ownerUrl: string): void {
  const target = new URL('/ws', ownerUrl);
  target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
  wss.handleUpgrade(req, socket, head, (ws) => {
    const timer = setTimeout(() => ws.close(CloseCodes.redirect, 'redirect'), REDIRECT_WAIT_MS);
    ws.once('close', () => clearTimeout(timer));
    ws.once('message', (data) => {
      let re: string | undefined;
      try {
        const msg = JSON.parse(String(data)) as { id?: unknown };
        if (typeof msg.id === 'string' && msg.id.length <= 64) re = msg.id;
      } catch {
        // Not JSON: the redirect goes out without `re`.
      }
      ws.send(JSON.stringify({ v: 1, type: 'redirect', ...(re ? { re } : {}), url: target.toString() }));
      ws.close(CloseCodes.redirect, 'redirect');
    });
  });
}
