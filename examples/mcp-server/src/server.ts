import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
// Outside this repository: `from '@latchkey/sdk'`. Inside it we import the SDK's source, so the
// example and its test run without building the SDK first (its package exports `dist/`).
import {
  bearerFrom,
  check,
  createVerifier,
  metadataUrl,
  type Principal,
  protectedResourceMetadata,
  type Refusal,
  refusal,
  VerifyError,
  type VerifierHealth,
} from '../../../packages/sdk/src/index.js';
import { BASE_SCOPE, buildMcpServer, requiredScopes, SCOPES } from './tools.js';

/** Where the MCP endpoint is served. */
export const MCP_PATH = '/mcp';
/** The largest request body read; a JSON-RPC message is far smaller. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface McpServerOptions {
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Latchkey's issuer URL (its PUBLIC_URL). */
  issuer: string;
  /** This server's resource URL exactly as configured in Latchkey (`[[resources]] url`). */
  resource: string;
  /** This resource's introspection credentials (`[[resources]] id` and `secret`). */
  credentials: { id: string; secret: string };
  /**
   * Whether a 401 names the scope a first request needs (`scope="mcp:read"`, SEP-835), so that a
   * client asks for what it needs rather than everything in `scopes_supported`. Default true;
   * false sends the bare challenge (`resource_metadata` only) that many resource servers send.
   */
  challengeScope?: boolean;
  /** The verifier's clock, in ms since the epoch (default `Date.now`); for tests. */
  now?: () => number;
}

export interface RunningMcpServer {
  /** The MCP endpoint, `http://host:port/mcp`. */
  url: string;
  /** The token verifier's state: is Latchkey's revocation stream connected, and how far has it read. */
  health(): VerifierHealth;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

const sendRefusal = (res: ServerResponse, r: Refusal) => send(res, r.status, r.body, r.headers);

/** The request body as JSON; `tooLarge`, or `undefined` when it is not JSON. */
async function readJson(
  req: IncomingMessage,
): Promise<{ tooLarge: true } | { tooLarge: false; json: unknown }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return { tooLarge: true };
    chunks.push(chunk);
  }
  try {
    return { tooLarge: false, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch {
    return { tooLarge: false, json: undefined };
  }
}

/** What the MCP SDK hands tool handlers as `extra.authInfo`. */
const authInfo = (token: string, p: Principal, resource: string): AuthInfo => ({
  token,
  clientId: p.client_id ?? '',
  scopes: [...p.scopes],
  ...(p.expires_at != null ? { expiresAt: p.expires_at } : {}),
  resource: new URL(resource),
  extra: { sub: p.sub, org_id: p.org_id },
});

/**
 * Starts the example MCP server: Streamable HTTP at `/mcp`, every request checked against Latchkey
 * by `@latchkey/sdk`, and the resource's RFC 9728 metadata at `metadataUrl(resource)`.
 *
 * Stateless mode: each POST gets a fresh MCP server and transport, and nothing is kept between
 * requests. Every request is then authorised on its own (its token, its scopes), any number of
 * instances can sit behind a load balancer, and a revoked token has no session to outlive it.
 * There is no server-to-client stream, so GET and DELETE answer 405.
 */
export async function startMcpServer(o: McpServerOptions): Promise<RunningMcpServer> {
  const verifier = createVerifier({
    issuer: o.issuer,
    resource: o.resource,
    credentials: o.credentials,
    ...(o.now ? { now: o.now } : {}),
  });
  // SEP-835: a 401 names the scope a first request needs, so the client asks for just that.
  const challengeScopes = o.challengeScope === false ? [] : [BASE_SCOPE];
  const resourceMetadataUrl = metadataUrl(o.resource);
  const metadataPath = new URL(resourceMetadataUrl).pathname;
  const metadata = protectedResourceMetadata({
    resource: o.resource,
    issuer: o.issuer,
    scopes: SCOPES,
    name: 'Latchkey example MCP server',
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === metadataPath && req.method === 'GET') return send(res, 200, metadata);
    if (path !== MCP_PATH) return send(res, 404, { error: 'not_found' });

    // 1. Every request needs a live token for this resource.
    const authorization = req.headers.authorization;
    const gate = await check(verifier, authorization, { resourceMetadataUrl, challengeScopes });
    if ('refusal' in gate) return sendRefusal(res, gate.refusal);
    if (req.method !== 'POST') return send(res, 405, { error: 'method_not_allowed' }, { allow: 'POST' });

    // 2. The scopes this message needs, decided before the MCP SDK sees it, so that a missing one
    //    is an HTTP 403 the client can step up from rather than a JSON-RPC error.
    const body = await readJson(req);
    if (body.tooLarge) return send(res, 413, { error: 'request_too_large' });
    if (body.json === undefined)
      return send(res, 400, { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null });
    const held = gate.principal.scopes;
    const missing = requiredScopes(body.json).filter((s) => !held.includes(s));
    if (missing.length > 0) {
      // The challenge names the scopes held as well as the missing ones (MCP's recommended
      // scope challenge): a client that re-authorises with exactly this list keeps what it had.
      const scope = [...new Set([...held, ...missing])].join(' ');
      const err = new VerifyError('insufficient_scope', `This needs the ${missing.join(' ')} scope.`, scope);
      return sendRefusal(res, refusal(err, resourceMetadataUrl));
    }

    // 3. Authorised: a fresh MCP server and transport answer this one request.
    const server = buildMcpServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    const token = bearerFrom(authorization)!;
    await transport.handleRequest(
      Object.assign(req, { auth: authInfo(token, gate.principal, o.resource) }),
      res,
      body.json,
    );
  }

  const http = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { error: 'server_error' });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(o.port, o.host ?? '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  const { address, port } = http.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;

  return {
    url: `http://${host}:${port}${MCP_PATH}`,
    health: () => verifier.health(),
    async close() {
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
      verifier.close();
    },
  };
}
