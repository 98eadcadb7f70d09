import { sessionAuthInfo } from '../../accounts/sessions.js';
import type { Catalogue, Resource } from '../../tokens/catalogue.js';
import type { Client } from '../store/clients.js';
import { OAuthError } from '../errors.js';
import type { OAuthDeps } from '../grants/types.js';
import { parseScope, requestedScopes, splitScopes } from '../scope.js';
import type { OidcContext } from './id-token.js';

/**
 * The OpenID Connect side of an authorization request (Core §3.1.2): recognised when `scope`
 * holds `openid`, else the request is plain OAuth and none of this applies.
 */
export interface OidcRequest {
  /** The OpenID scopes asked for (`openid`, and `profile`, `email`, `offline_access` when named). */
  readonly scopes: readonly string[];
  readonly nonce: string | undefined;
  /** Seconds; 0 asks for a fresh sign-in every time. */
  readonly maxAge: number | undefined;
  readonly prompt: ReadonlySet<'none' | 'login' | 'consent' | 'select_account'>;
  readonly idTokenHint: string | undefined;
  /** Set by Latchkey on the way back from a sign-in it asked for: a sign-in at or after it counts as fresh. */
  readonly authAfter: number | undefined;
}

/** Latchkey's own marker on the return from a forced sign-in (prompt=login, max_age). */
export const AUTH_AFTER_PARAM = 'lk_auth_after';
export const NONCE_MAX_LENGTH = 500;
const PROMPTS = ['none', 'login', 'consent', 'select_account'] as const;

type Params = Record<string, unknown>;

function single(params: Params, name: string): string | undefined {
  const v = params[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new OAuthError('invalid_request', `${name} must be given once.`);
  return v;
}

/** The OpenID parameters of a request whose scope holds `openid`; null otherwise. Throws `invalid_request`. */
export function parseOidcRequest(params: Params): OidcRequest | null {
  const named = parseScope(single(params, 'scope')) ?? [];
  if (!named.includes('openid')) return null;
  const nonce = single(params, 'nonce');
  if (nonce !== undefined && nonce.length > NONCE_MAX_LENGTH)
    throw new OAuthError('invalid_request', `nonce must be at most ${NONCE_MAX_LENGTH} characters.`);
  const maxAgeRaw = single(params, 'max_age');
  if (maxAgeRaw !== undefined && !/^\d{1,9}$/.test(maxAgeRaw))
    throw new OAuthError('invalid_request', 'max_age must be a non-negative integer of seconds.');
  const prompt = new Set<OidcRequest['prompt'] extends ReadonlySet<infer T> ? T : never>();
  for (const p of (single(params, 'prompt') ?? '').split(' ').filter(Boolean)) {
    if (!(PROMPTS as readonly string[]).includes(p))
      throw new OAuthError('invalid_request', `prompt=${p.slice(0, 40)} is not supported.`);
    prompt.add(p as (typeof PROMPTS)[number]);
  }
  if (prompt.has('none') && prompt.size > 1)
    throw new OAuthError('invalid_request', 'prompt=none cannot be combined with other values.');
  const responseType = single(params, 'response_type');
  if (responseType !== undefined && responseType !== 'code')
    throw new OAuthError('unsupported_response_type', 'Only response_type=code is supported.');
  const after = single(params, AUTH_AFTER_PARAM);
  return {
    scopes: named.filter((s) => ['openid', 'profile', 'email', 'offline_access'].includes(s)),
    nonce,
    maxAge: maxAgeRaw === undefined ? undefined : Number(maxAgeRaw),
    prompt,
    idTokenHint: single(params, 'id_token_hint'),
    authAfter: after !== undefined && /^\d{1,12}$/.test(after) ? Number(after) : undefined,
  };
}

/**
 * The scopes of an OpenID request: its OpenID scopes, plus resource scopes.
 *
 * - With no `resource` (a relying party signing someone in, `catalogue.api`): the resource scopes
 *   it names (checked as any request's are); naming none is fine — a sign-in asks for nobody's
 *   API — and gets no resource scope, never the API's defaults.
 * - With a `resource` (an MCP client's fallback `openid profile email` alongside RFC 8707's
 *   parameter): the request is narrowed like any other, so naming none of the resource's gets its
 *   default (never high-risk) scopes, and the OpenID scopes are kept. An ID token here is sound:
 *   its audience is the client, not the resource, and it says only who signed in — what the
 *   client asked for with `openid` and what the person sees on consent; the access token stays
 *   bound to the resource and its scopes.
 */
export function oidcRequestedScopes(
  catalogue: Catalogue,
  resource: Resource,
  client: Client,
  req: OidcRequest,
  scope: string | undefined,
): string[] {
  if (resource.url !== catalogue.api.url)
    return [...req.scopes, ...requestedScopes(catalogue, resource, client, scope)];
  const split = splitScopes(resource, parseScope(scope) ?? []);
  const own = split.resource.length
    ? requestedScopes(catalogue, resource, client, split.resource.join(' '))
    : [];
  return [...req.scopes, ...own];
}

export type OidcSessionStep =
  | { kind: 'continue'; context: OidcContext }
  /** Send the browser to sign in again, then back to `returnTo`. */
  | { kind: 'login'; returnTo: string }
  | { kind: 'error'; error: 'login_required' | 'invalid_request'; description: string };

/**
 * Decides whether the signed-in person may go on (Core §3.1.2.3): `prompt=login` and a `max_age`
 * the session's sign-in is older than ask for a fresh sign-in (or `login_required` with
 * `prompt=none`); an `id_token_hint` naming someone else does the same. `url` is the request's
 * own path and query, to come back to. Returns the ID token context of the session otherwise.
 */
export async function oidcSessionStep(
  deps: Pick<OAuthDeps, 'db' | 'clock' | 'keys' | 'config'>,
  o: { request: OidcRequest; userId: string; sessionId: string; url: string },
): Promise<OidcSessionStep> {
  const { request } = o;
  const info = await sessionAuthInfo(deps.db, deps.clock, o.sessionId);
  if (!info) return { kind: 'error', error: 'login_required', description: 'No usable session.' };
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  const authTime = Math.floor(info.authTime.getTime() / 1000);
  const freshAfter = request.authAfter !== undefined && authTime >= request.authAfter;
  let reason: string | null = null;
  if (request.idTokenHint !== undefined) {
    let hinted: string | undefined;
    try {
      const { payload } = await deps.keys.verify(request.idTokenHint, {
        issuer: deps.config.publicUrl,
        // An expired ID token is still a fine hint (Core §3.1.2.1); its signature is what counts.
        currentDate: new Date(0),
        clockTolerance: Number.MAX_SAFE_INTEGER,
      });
      hinted = payload.sub;
    } catch {
      return {
        kind: 'error',
        error: 'invalid_request',
        description: 'id_token_hint is not an ID token this server issued.',
      };
    }
    if (hinted !== o.userId) reason = 'The ID token hint names another account.';
  }
  if (!freshAfter) {
    if (request.prompt.has('login')) reason ??= 'A fresh sign-in was requested.';
    // max_age=0 is a fresh sign-in every time (Core §3.1.2.1), even one made this very second.
    if (request.maxAge !== undefined && (request.maxAge === 0 || now - authTime > request.maxAge))
      reason ??= 'The sign-in is older than max_age allows.';
  }
  if (reason) {
    if (request.prompt.has('none')) return { kind: 'error', error: 'login_required', description: reason };
    const u = new URL(o.url, deps.config.publicUrl);
    const prompts = [...request.prompt].filter((p) => p !== 'login');
    if (prompts.length) u.searchParams.set('prompt', prompts.join(' '));
    else u.searchParams.delete('prompt');
    u.searchParams.set(AUTH_AFTER_PARAM, String(now));
    return { kind: 'login', returnTo: `${u.pathname}${u.search}` };
  }
  return { kind: 'continue', context: contextOf(request, o.sessionId, info) };
}

function contextOf(
  request: OidcRequest,
  sessionId: string,
  info: { amr: string[]; authTime: Date },
): OidcContext {
  return {
    ...(request.nonce !== undefined ? { nonce: request.nonce } : {}),
    auth_time: Math.floor(info.authTime.getTime() / 1000),
    amr: info.amr,
    sid: sessionId,
  };
}

/**
 * The ID token context of an OpenID request answered in this session (its nonce, the session's
 * sign-in time, methods and id), for the code about to be issued; null when the session is gone.
 * Does not judge freshness: `oidcSessionStep` did, before consent.
 */
export async function oidcContext(
  deps: Pick<OAuthDeps, 'db' | 'clock'>,
  request: OidcRequest,
  sessionId: string,
): Promise<OidcContext | null> {
  const info = await sessionAuthInfo(deps.db, deps.clock, sessionId);
  return info ? contextOf(request, sessionId, info) : null;
}
