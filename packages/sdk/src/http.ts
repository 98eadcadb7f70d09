import { type Quota, QuotaExceededError } from './quota.js';
import { type Principal, VerifyError } from './principal.js';
import type { Verifier } from './verifier.js';

/**
 * HTTP integration: the bearer token from a request, RFC 6750 answers for failures, and the
 * resource's RFC 9728 metadata document. Framework adapters are thin wrappers over `check`.
 */

/**
 * Where a request names the org it acts in (an org id or slug), for an adapter's request type.
 * Declared as a method so that a function typed with the framework's own request type fits.
 */
export type OrgOf<Req> = { bivariant(req: Req): string | null | undefined }['bivariant'];

/** The header Latchkey's own API reads the org from, and the adapters' default. */
export const ORG_HEADER = 'x-org-id';

export interface ProtectOptions<Req = never> {
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
  /**
   * The org the request acts in, id or slug (default: the `x-org-id` header, as Latchkey's API
   * takes it). When one is named, the principal carries `org_id`, `org_slug` and the person's
   * `org_role` there, and a token that may not act in it is refused (403 `org_forbidden`).
   * `false`: requests never name an org (a personal token's principal has `org_id: null`).
   */
  org?: OrgOf<Req> | false;
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
  if (err instanceof VerifyError && err.code === 'org_forbidden') {
    // Not a token problem: no challenge, so a client does not throw its token away.
    return {
      status: 403,
      headers: {},
      body: { error: 'org_forbidden', error_description: err.message },
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
 * Verifies the request's bearer token — in the org `org` when the request names one (see
 * `orgOfRequest`) — then spends one call of its quota when `o.quota` is set; a principal, or the
 * refusal to send. Never throws for bad input.
 */
export async function check(
  verifier: Verifier,
  authorization: string | null | undefined,
  o: Omit<ProtectOptions, 'org'> & { scopes?: readonly string[] },
  org?: string | null,
): Promise<{ principal: Principal } | { refusal: Refusal }> {
  const token = bearerFrom(authorization);
  const needs = o.scopes?.length ? o.scopes : (o.challengeScopes ?? []);
  if (!token) return { refusal: refusal(null, o.resourceMetadataUrl, needs) };
  try {
    const principal = await verifier.verify(token, { scopes: o.scopes ?? [], org: org ?? null });
    if (o.quota) {
      const q = await o.quota.consume(principal);
      if (!q.allowed) throw new QuotaExceededError(q.retryAfterSeconds);
    }
    return { principal };
  } catch (err) {
    return { refusal: refusal(err, o.resourceMetadataUrl, needs) };
  }
}

/**
 * The org a request names: from the adapter's `org` option, else the `x-org-id` header (`header`
 * reads one of the request's headers); null when `org` is `false` or nothing is named. A header
 * sent more than once names no single org: the values are joined, which matches none.
 */
export function orgOfRequest<Req>(
  req: Req,
  org: OrgOf<Req> | false | undefined,
  header: (name: string) => string | string[] | null | undefined,
): string | null {
  if (org === false) return null;
  const named = org ? org(req) : header(ORG_HEADER);
  const value = Array.isArray(named) ? named.join(', ') : named;
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

/** For fetch runtimes: `(Request) => Principal | Response`. */
export function protectRequest(verifier: Verifier, o: ProtectOptions<Request>) {
  assertOrgOption('protectRequest', o.org);
  return async (request: Request, scopes?: readonly string[]): Promise<Principal | Response> => {
    const r = await check(
      verifier,
      request.headers.get('authorization'),
      { ...o, scopes: [...(o.scopes ?? []), ...(scopes ?? [])] },
      orgOfRequest(request, o.org, (name) => request.headers.get(name)),
    );
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
 * `check` answered at once, when the verifier already holds the answer (`Verifier.verifyCached`)
 * and no quota is to be spent: the principal, or null — then call `check`. Refusals always come
 * from `check`.
 */
export function checkCached(
  verifier: Verifier,
  authorization: string | null | undefined,
  o: Omit<ProtectOptions, 'org'> & { scopes?: readonly string[] },
  org: string | null,
): Principal | null {
  if (o.quota) return null;
  const token = bearerKey(authorization);
  return token ? verifier.verifyCached(token, { scopes: o.scopes ?? [], org }) : null;
}

/**
 * What `bearerFrom` would read, without checking the token's characters: only to look up tokens
 * verified before, which passed that check (a string that would fail it is never found).
 */
function bearerKey(header: string | null | undefined): string | null {
  if (!header || header.length < 8) return null;
  const scheme = header.slice(0, 7);
  if (scheme !== 'Bearer ' && scheme.toLowerCase() !== 'bearer ') return null;
  let start = 7;
  while (header.charCodeAt(start) === 32) start++;
  let end = header.length;
  while (end > start && header.charCodeAt(end - 1) === 32) end--;
  return end > start ? header.slice(start, end) : null;
}

/**
 * A Fastify `preHandler` hook: sets `request.latchkey` to the principal, or answers the refusal.
 * Add `scopes` per route by creating one hook per scope set. A token the verifier already knows
 * is let through without a promise (a callback-style hook), so protecting a route costs little.
 */
export function fastifyHook(verifier: Verifier, o: ProtectOptions<FastifyLikeRequest>) {
  assertOrgOption('fastifyHook', o.org);
  return function latchkey(
    request: FastifyLikeRequest,
    reply: FastifyLikeReply,
    done: (err?: Error) => void,
  ): void {
    const raw = request.headers.authorization;
    const h = Array.isArray(raw) ? raw[0] : raw;
    let org: string | null;
    try {
      org = orgOfRequest(request, o.org, (name) => request.headers[name]);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const known = checkCached(verifier, h, o, org);
    if (known) {
      request.latchkey = known;
      done();
      return;
    }
    check(verifier, h, o, org).then(
      (r) => {
        if ('principal' in r) {
          request.latchkey = r.principal;
          done();
          return;
        }
        // An answered request goes no further: Fastify needs no `done()` after `send`.
        reply
          .code(r.refusal.status)
          .headers({ 'cache-control': 'no-store', ...r.refusal.headers })
          .send(r.refusal.body);
      },
      (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
    );
  };
}

/** The `org` option is a function or `false`: anything else is a mistake, caught at start-up. */
export function assertOrgOption(adapter: string, org: unknown): void {
  if (org !== undefined && org !== false && typeof org !== 'function')
    throw new TypeError(`${adapter}: org must be a function of the request, or false.`);
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
