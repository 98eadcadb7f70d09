import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';

/** A real HTTP server on loopback serving Client ID Metadata Documents. */
export async function documentServer() {
  const docs = new Map<string, unknown>();
  const server: Server = createServer((req, res) => {
    const d = docs.get(req.url ?? '/');
    if (d === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify(d));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    /** Serves `meta` (plus `client_id`) at `path`; returns the client_id. */
    serve(path: string, meta: Record<string, unknown>): string {
      const url = base + path;
      docs.set(path, { client_id: url, token_endpoint_auth_method: 'none', ...meta });
      return url;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The `error` of an authorization redirect to the client. */
export function redirectErrorOf(res: LightMyRequestResponse): string | null {
  assert.equal(res.statusCode, 303, res.body);
  return new URL(res.headers.location as string).searchParams.get('error');
}
