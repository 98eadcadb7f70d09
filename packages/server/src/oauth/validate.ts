import type { Deps } from '../deps.js';
import type { Authenticator, Principal } from '../auth/principal.js';
import { bearerToken, invalidCredential } from '../auth/principal.js';
import type { CachedCredential } from '../auth/credential-cache.js';
import { hashToken, parseToken } from '../tokens/format.js';
import { findLiveTokenByHash, scopesOf } from './store/tokens.js';

/**
 * A live OAuth token by its plaintext: shape and checksum first, then this node's credential
 * cache, then one indexed lookup. Null for anything not live — unknown, revoked, rotated, expired,
 * or acting for a person who has left the token's org. Cached entries are dropped on every node
 * when the token, its person or its org changes.
 */
export async function liveOAuthToken(
  deps: Pick<Deps, 'db' | 'clock' | 'auth' | 'config'>,
  token: string,
): Promise<CachedCredential | null> {
  const parsed = parseToken(token, deps.config.tokenPrefix);
  if (!parsed || (parsed.kind !== 'at' && parsed.kind !== 'rt')) return null;
  return liveOAuthTokenByHash(deps, hashToken(token));
}

/** `liveOAuthToken` by the token's hash (a JWT access token's `jti` is its row's hash). */
export async function liveOAuthTokenByHash(
  deps: Pick<Deps, 'db' | 'clock' | 'auth' | 'config'>,
  hash: string,
): Promise<CachedCredential | null> {
  let cred = deps.auth.credential(hash);
  if (cred === undefined) {
    const generation = deps.auth.generation();
    cred = await load(deps, hash);
    deps.auth.putCredential(hash, cred, generation);
  }
  if (!cred?.oauth || (cred.expiresAt !== null && cred.expiresAt <= deps.clock.now().getTime())) return null;
  return cred;
}

async function load(deps: Pick<Deps, 'db' | 'clock'>, hash: string): Promise<CachedCredential | null> {
  const row = await findLiveTokenByHash(deps.db, deps.clock, hash);
  if (!row) return null;
  // A token that acts for a person lives only while they are a member of its org. A
  // client-credentials token acts as the app, with the scopes it was given.
  if (row.user_id && !row.role) return null;
  const scopes = scopesOf(row.scopes);
  const boundOrg = { id: row.org_id, slug: row.org_slug, name: row.org_name, role: row.role ?? 'admin' };
  const principal: Principal = {
    kind: 'oauth',
    user: row.user_id ? { id: row.user_id, email: row.user_email!, name: row.user_name! } : null,
    sessionId: null,
    boundOrg,
    defaultOrgId: null,
    scopes,
    prefix: row.prefix,
    actor: `oauth:${row.prefix}`,
    superuser: false,
    tokenId: row.id,
    expiresAt: row.expires_at.getTime(),
    fromSession: false,
    emailVerified: row.user_id ? row.user_email_verified_at !== null : true,
    signedInAt: null,
  };
  return {
    principal,
    id: row.id,
    expiresAt: row.expires_at.getTime(),
    boundOrg,
    oauth: {
      kind: row.kind,
      clientId: row.client_id,
      userId: row.user_id,
      orgId: row.org_id,
      resource: row.resource,
      scopes,
      iat: Math.floor(row.created_at.getTime() / 1000),
      exp: Math.floor(row.expires_at.getTime() / 1000),
    },
  };
}

/**
 * Tier 3: OAuth access tokens whose audience is Latchkey's own API (`PUBLIC_URL/api`). A token
 * for another resource is not a credential here — every failure looks the same.
 */
export function oauthAuthenticator(apiResource: string): Authenticator {
  return async (req, deps) => {
    const bearer = bearerToken(req);
    const prefix = `${deps.config.tokenPrefix}_`;
    if (!bearer?.startsWith(`${prefix}at_`)) return null;
    const cred = await liveOAuthToken(deps, bearer);
    if (!cred?.oauth || cred.oauth.kind !== 'at' || cred.oauth.resource !== apiResource)
      throw invalidCredential();
    return cred.principal;
  };
}
