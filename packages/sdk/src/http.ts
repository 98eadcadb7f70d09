import { type Quota, QuotaExceededError } from './quota.js';
import type { Principal, Verifier } from './verifier.js';
import { VerifyError } from './verifier.js';

/**
 * HTTP integration: the bearer token from a request, RFC 6750 answers for failures, and the
 * resource's RFC 9728 metadata document. Framework adapters are thin wrappers over `check`.
 */

export interface ProtectOptions {
  /** The URL of this resource's protected resource metadata (see `metadataUrl`). */
  resourceMetadataUrl: string;
  /** Scopes every request must hold; a 401 names them (`scope`, SEP-835) so the client asks for them. */
  scopes?: readonly string[];
  /**
   * Scopes a 401 names when `scopes` is empty — usually the resource's default scopes — so that
   * a client's first authorization asks for what it will need (SEP-835). Unset: no `scope`.
   */
  challengeScopes?: readonly string[];
  /** Spends one call of the principal's budget once the token and scopes pass; 429 when spent. */
  quota?: Quota;
}

/** What to answer instead of serving the request. */
export interface Refusal {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string; scope?: string };
}

/** `Authorization: Bearer <token>` (RFC 6750 §2.1), or null. */
export function bearerFrom(header: string | null | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  return m ? m[1]! : null;
}

const quote = (s: string) => s.replace(/[\\"]/g, '');

/**
 * The RFC 6750 §3 answer for a failure, pointing MCP clients at the resource metadata (RFC 9728
 * §5.1). A 401 names `challengeScope` (the scopes the request needs) when given, as MCP's scope
 * strategy (SEP-835) asks; a 403 `insufficient_scope` names the scopes the call needs.
 */
export function refusal(
  err: unknown,
  resourceMetadataUrl: string,
  challengeScope: readonly string[] = [],
): Refusal {
  const needs = challengeScope.map(quote).filter(Boolean).join(' ');
  const prm = `${needs ? `scope="${needs}", ` : ''}resource_metadata="${quote(resourceMetadataUrl)}"`;
  if (err instanceof VerifyError && err.code === 'insufficient_scope') {
    return {
      status: 403,
      headers: {
        'www-authenticate': `Bearer error="insufficient_scope", scope="${quote(err.scope ?? '')}", resource_metadata="${quote(resourceMetadataUrl)}"`,
      },
      body: { error: 'insufficient_scope', error_description: err.message, scope: err.scope ?? '' },
    };
  }
  if (err instanceof VerifyError && err.code === 'invalid_token') {
    return {
      status: 401,
      headers: { 'www-authenticate': `Bearer error="invalid_token", ${prm}` },
      body: { error: 'invalid_token', error_description: 'The access token is not valid.' },
    };
  }
  if (err instanceof QuotaExceededError) {
    return {
      status: 429,
      headers: { 'retry-after': String(err.retryAfterSeconds) },
      body: { error: 'quota_exceeded', error_description: err.message },
    };
  }
  if (err === null) {
    return {
      status: 401,
      headers: { 'www-authenticate': `Bearer ${prm}` },
      body: { error: 'invalid_request', error_description: 'Send an access token (Authorization: Bearer).' },
    };
  }
  // Latchkey (or the quota store) could not be asked: fail closed.
  return {
    status: 503,
    headers: { 'retry-after': '5' },
    body: { error: 'temporarily_unavailable', error_description: 'The token cannot be checked right now.' },
  };
}

/**
 * Verifies the request's bearer token, then spends one call of its quota when `o.quota` is set;
 * a principal, or the refusal to send. Never throws for bad input.
 */
export async function check(
  verifier: Verifier,
  authorization: string | null | undefined,
  o: ProtectOptions & { scopes?: readonly string[] },
): Promise<{ principal: Principal } | { refusal: Refusal }> {
  const token = bearerFrom(authorization);
  const needs = o.scopes?.length ? o.scopes : (o.challengeScopes ?? []);
  if (!token) return { refusal: refusal(null, o.resourceMetadataUrl, needs) };
  try {
    const principal = await verifier.verify(token, { scopes: o.scopes ?? [] });
    if (o.quota) {
      const q = await o.quota.consume(principal);
      if (!q.allowed) throw new QuotaExceededError(q.retryAfterSeconds);
    }
    return { principal };
  } catch (err) {
    return { refusal: refusal(err, o.resourceMetadataUrl, needs) };
  }
}

/** For fetch runtimes: `(Request) => Principal | Response`. */
export function protectRequest(verifier: Verifier, o: ProtectOptions) {
  return async (request: Request, scopes?: readonly string[]): Promise<Principal | Response> => {
    const r = await check(verifier, request.headers.get('authorization'), {
      ...o,
      scopes: [...(o.scopes ?? []), ...(scopes ?? [])],
    });
    if ('principal' in r) return r.principal;
    return new Response(JSON.stringify(r.refusal.body), {
      status: r.refusal.status,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...r.refusal.headers },
    });
  };
}

/** Minimal shapes of a Fastify request and reply, so the SDK does not depend on Fastify. */
interface FastifyLikeRequest {
  headers: Record<string, string | string[] | undefined>;
  latchkey?: Principal;
}
interface FastifyLikeReply {
  code(status: number): FastifyLikeReply;
  headers(h: Record<string, string>): FastifyLikeReply;
  send(body: unknown): unknown;
}

/**
 * A Fastify `preHandler` hook: sets `request.latchkey` to the principal, or answers the refusal.
 * Add `scopes` per route by creating one hook per scope set.
 */
export function fastifyHook(verifier: Verifier, o: ProtectOptions) {
  return async function latchkey(request: FastifyLikeRequest, reply: FastifyLikeReply) {
    const h = request.headers.authorization;
    const r = await check(verifier, Array.isArray(h) ? h[0] : h, o);
    if ('principal' in r) {
      request.latchkey = r.principal;
      return;
    }
    return reply
      .code(r.refusal.status)
      .headers({ 'cache-control': 'no-store', ...r.refusal.headers })
      .send(r.refusal.body);
  };
}

/**
 * The resource's RFC 9728 metadata URL: the well-known path inserted before the resource's path,
 * `https://mcp.example.com/.well-known/oauth-protected-resource/mcp` for `https://mcp.example.com/mcp`.
 */
export function metadataUrl(resource: string): string {
  const u = new URL(resource);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '');
  return `${u.origin}/.well-known/oauth-protected-resource${path}`;
}

/** The RFC 9728 document to serve at `metadataUrl(resource)`. */
export function protectedResourceMetadata(o: {
  resource: string;
  issuer: string;
  scopes?: readonly string[];
  name?: string;
}) {
  return {
    resource: o.resource,
    authorization_servers: [o.issuer.replace(/\/+$/, '')],
    bearer_methods_supported: ['header'],
    ...(o.scopes ? { scopes_supported: [...o.scopes] } : {}),
    ...(o.name ? { resource_name: o.name } : {}),
  };
}
