import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver: a real HTTP server on loopback that records every request it gets. */
export interface Receiver {
  url: string;
  received: Received[];
  /** The status it answers; change it to make deliveries fail or succeed. */
  status: number;
  close(): Promise<void>;
}

export async function startReceiver(path = '/hook'): Promise<Receiver> {
  const r: Receiver = { url: '', received: [], status: 204, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.received.push({
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.statusCode = r.status;
      res.end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  r.close = () =>
    new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    });
  return r;
}

export interface EventPayload {
  type: string;
  timestamp: string;
  data: {
    id: string;
    org_id: string | null;
    actor: string;
    action: string;
    target: string | null;
    created_at: string;
    data: Record<string, unknown>;
  };
}

/** Verifies a request with the Standard Webhooks library and `secret`; throws when it does not verify. */
export function verified(secret: string, r: Received): EventPayload {
  const headers: Record<string, string> = {};
  for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) headers[h] = String(r.headers[h]);
  return new Webhook(secret).verify(r.body, headers) as EventPayload;
}

/** Waits until `check` answers true, polling; fails with `what` if it never does. */
export async function waitFor(
  what: string | (() => string),
  check: () => boolean | Promise<boolean>,
  maxMs = 30_000,
) {
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((ok) => setTimeout(ok, 25));
  }
  throw new Error(`gave up waiting: ${typeof what === 'string' ? what : what()}`);
}

/** Settings every webhook test server runs with: loopback receivers, quick retries. */
export const WEBHOOK_ENV = {
  WEBHOOK_ALLOW_LOOPBACK: 'true',
  WEBHOOK_RETRY_BASE_MS: '100',
} as const;
