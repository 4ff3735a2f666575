import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST as the receiver got it, with the verdict of the documented verification recipe. */
export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  rawBody: string;
  event: { id: string; type: string; room: string; timestamp: string; data: Record<string, unknown> };
  verified: boolean;
  at: number;
  /** The status the receiver answered. */
  status?: number;
}

/**
 * The receiver-side check, written exactly as docs/webhooks.md gives it (and independently of
 * services/webhooks/signature.ts, so the test proves the documented recipe against our signer).
 */
export function verifyAsDocumented(secret: string, headers: Record<string, string | undefined>, rawBody: string, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!timestamp || !signatures) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > 300) return false; // older than 5 minutes: replay
  const expected = 'v1=' + createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex');
  return signatures.split(' ').some((s) => s.length === expected.length && timingSafeEqual(Buffer.from(s), Buffer.from(expected)));
}

export interface TestReceiver {
  url: string;
  port: number;
  received: Received[];
  /** Decides the HTTP status per request (default 200). */
  respond: (r: Received, n: number) => number | Promise<number>;
  /** Stops listening (connections dropped); the port is kept for `start()`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A real HTTP webhook receiver on 127.0.0.1 that records every delivery and verifies its signature. */
export async function startReceiver(secret: string, port = 0): Promise<TestReceiver> {
  let server: Server | undefined;
  let count = 0;
  const handle: TestReceiver = {
    url: '',
    port,
    received: [],
    respond: () => 200,
    async stop() {
      const s = server;
      if (!s) return;
      server = undefined;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
    async start() {
      if (server) return;
      const s = createServer(async (req: IncomingMessage, res) => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const rawBody = Buffer.concat(chunks).toString('utf8');
        const headers = req.headers as Record<string, string | undefined>;
        let event: Received['event'];
        try {
          event = JSON.parse(rawBody);
        } catch {
          res.writeHead(400).end();
          return;
        }
        const r: Received = {
          id: headers['webhook-id'] ?? '',
          timestamp: headers['webhook-timestamp'] ?? '',
          signature: headers['webhook-signature'] ?? '',
          rawBody,
          event,
          verified: verifyAsDocumented(secret, headers, rawBody),
          at: Date.now(),
        };
        handle.received.push(r);
        const status = await handle.respond(r, ++count);
        r.status = status;
        res.writeHead(status, { 'content-type': 'text/plain' }).end('ok');
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(handle.port, '127.0.0.1', () => resolve());
      });
      server = s;
      handle.port = (s.address() as AddressInfo).port;
      handle.url = `http://127.0.0.1:${handle.port}/hooks`;
    },
    close: () => handle.stop(),
  };
  await handle.start();
  return handle;
}

/** The deliveries a receiver accepted (2xx), first of each event id, in arrival order. */
export function acceptedOnce(received: Received[]): Received[] {
  const seen = new Set<string>();
  return received.filter((r) => r.status !== undefined && r.status < 300 && !seen.has(r.id) && (seen.add(r.id), true));
}
