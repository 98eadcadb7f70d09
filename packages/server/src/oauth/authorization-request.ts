import type { OrgContext } from '../auth/principal.js';
import type { Resource } from '../tokens/catalogue.js';
import { type Client, findClient } from './store/clients.js';
import { OAuthError } from './errors.js';
import type { OAuthDeps } from './grants/types.js';
import { oidcRequestedScopes, type OidcRequest, parseOidcRequest } from './oidc/authorize-step.js';
import { S256_CHALLENGE_RE } from './pkce.js';
import { matchRedirectUri } from './redirect-uri.js';
import { requestedResource, requestedScopes } from './scope.js';

export const STATE_MAX_LENGTH = 2000;

/** A checked authorization request (RFC 6749 §4.1.1 + PKCE + RFC 8707). */
export interface AuthorizationRequest {
  readonly client: Client;
  readonly redirectUri: string;
  readonly state: string | undefined;
  readonly codeChallenge: string;
  readonly resource: Resource;
  /** What the client asks for (defaults applied). */
  readonly scopes: readonly string[];
  readonly prompt: string | undefined;
  /** The OpenID Connect side of the request (`openid` in scope); null for plain OAuth. */
  readonly oidc: OidcRequest | null;
}

/** An error found before the redirect URI is trusted: rendered as a page, never redirected. */
export class UntrustedRedirectError extends Error {
  constructor(readonly description: string) {
    super(description);
    this.name = 'UntrustedRedirectError';
  }
}

/** An error to send back to the client's (trusted) redirect URI. */
export class RedirectError extends Error {
  constructor(
    readonly redirectUri: string,
    readonly state: string | undefined,
    readonly error: OAuthError,
  ) {
    super(error.description);
    this.name = 'RedirectError';
  }
}

type Params = Record<string, unknown>;

/** The authorization request parameters Latchkey reads; anything else is ignored. */
const AUTHORIZE_PARAMS = [
  'client_id',
  'redirect_uri',
  'response_type',
  'state',
  'code_challenge',
  'code_challenge_method',
  'resource',
  'scope',
  'prompt',
  'nonce',
  'max_age',
  'id_token_hint',
  'login_hint',
] as const;

/** A recognised parameter's value; sent without a value, it counts as omitted (RFC 6749 §3.1). */
function single(params: Params, name: string): string | undefined {
  const v = params[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new OAuthError('invalid_request', `${name} must be given once.`);
  return v;
}

/** Step 1: the client, by client_id. Unknown → a page. */
async function checkClient(deps: OAuthDeps, params: Params): Promise<Client> {
  const v = params.client_id;
  if (typeof v !== 'string' || v === '')
    throw new UntrustedRedirectError('The request names no client (client_id).');
  try {
    const client = await findClient(deps, v, { fresh: true });
    if (!client) throw new UntrustedRedirectError('The client is unknown.');
    return client;
  } catch (err) {
    if (err instanceof OAuthError) throw new UntrustedRedirectError(err.description);
    throw err;
  }
}

/** Step 2: the redirect URI, required and registered (exact match; any port on loopback). */
function checkRedirectUri(client: Client, params: Params): string {
  const v = params.redirect_uri;
  if (typeof v !== 'string' || v === '')
    throw new UntrustedRedirectError('The request names no single redirect_uri.');
  if (!matchRedirectUri(client.redirectUris, v)) {
    throw new UntrustedRedirectError('The redirect_uri is not registered for this client.');
  }
  return v;
}

/** Step 3 onwards: everything else, reported to the now-trusted redirect URI. */
function checkRest(
  deps: OAuthDeps,
  client: Client,
  redirectUri: string,
  params: Params,
): AuthorizationRequest {
  const rawState = params.state;
  const state = typeof rawState === 'string' && rawState.length <= STATE_MAX_LENGTH ? rawState : undefined;
  const fail = (e: OAuthError) => new RedirectError(redirectUri, state, e);
  try {
    if (rawState !== undefined && state === undefined) {
      throw new OAuthError(
        'invalid_request',
        `state must be given once and be at most ${STATE_MAX_LENGTH} characters.`,
      );
    }
    // RFC 6749 §3.1: unrecognised parameters are ignored; recognised ones come at most once.
    for (const k of AUTHORIZE_PARAMS) {
      const v = params[k];
      if (v === undefined) continue;
      if (typeof v !== 'string') {
        if (k === 'resource')
          throw new OAuthError('invalid_target', 'A token serves exactly one resource; name one.');
        throw new OAuthError('invalid_request', `${k} must be given once.`);
      }
      if (v.length > 4000) throw new OAuthError('invalid_request', `${k} is too long.`);
    }
    const responseType = single(params, 'response_type');
    if (responseType === undefined) throw new OAuthError('invalid_request', 'response_type is required.');
    if (responseType !== 'code') {
      throw new OAuthError('unsupported_response_type', 'Only response_type=code is supported.');
    }
    if (!client.grantTypes.includes('authorization_code')) {
      throw new OAuthError('unauthorized_client', 'This client may not use the authorization code grant.');
    }
    const challenge = single(params, 'code_challenge');
    const method = single(params, 'code_challenge_method');
    if (challenge === undefined)
      throw new OAuthError('invalid_request', 'PKCE is required: send code_challenge with method S256.');
    if (method !== 'S256') throw new OAuthError('invalid_request', 'code_challenge_method must be S256.');
    if (!S256_CHALLENGE_RE.test(challenge))
      throw new OAuthError('invalid_request', 'code_challenge is not a valid S256 challenge.');
    // OpenID Connect: relying parties send no resource; their tokens are for userinfo and the API.
    const oidc = parseOidcRequest(params);
    const resourceParam = single(params, 'resource');
    const resource =
      oidc && resourceParam === undefined
        ? deps.catalogue.api
        : requestedResource(deps.catalogue, resourceParam);
    const scopes = oidc
      ? oidcRequestedScopes(deps.catalogue, resource, client, oidc, single(params, 'scope'))
      : requestedScopes(deps.catalogue, resource, client, single(params, 'scope'));
    return {
      client,
      redirectUri,
      state,
      codeChallenge: challenge,
      resource,
      scopes,
      prompt: single(params, 'prompt'),
      oidc,
    };
  } catch (err) {
    if (err instanceof OAuthError) throw fail(err);
    throw err;
  }
}

/**
 * Checks an authorization request in the documented order. Errors before the redirect URI is
 * trusted throw `UntrustedRedirectError`; later ones throw `RedirectError`.
 */
export async function checkAuthorizationRequest(
  deps: OAuthDeps,
  params: Params,
): Promise<AuthorizationRequest> {
  const client = await checkClient(deps, params);
  const redirectUri = checkRedirectUri(client, params);
  return checkRest(deps, client, redirectUri, params);
}

/** The orgs the person may authorise this client in: all theirs, or only the app's own org. */
export function eligibleOrgs(client: Client, orgs: readonly OrgContext[]): OrgContext[] {
  return client.kind === 'app' ? orgs.filter((o) => o.id === client.orgId) : [...orgs];
}
