import type { Deps } from '../deps.js';
import type { Authenticator, CredentialRequest, OrgContext, Principal, TierDeps } from '../auth/principal.js';
import { membershipsReadWith } from '../orgs/context.js';
import { bearerToken, invalidCredential } from '../auth/principal.js';
import type { CachedCredential } from '../auth/credential-cache.js';
import { MINUTE } from '../lib/clock.js';
import { hashToken, MAX_TOKEN_LENGTH, parseToken } from './format.js';
import { findLiveToken, touchLastUsed } from './queries.js';

/** last_used_at is written at most this often per token, off the request path. */
export const LAST_USED_INTERVAL_MS = MINUTE;

/** Latchkey API tokens handled by this tier; OAuth access tokens (`at`) belong to the next one. */
const KINDS = new Set(['pat', 'svc', 'org', 'svc_agent']);

/**
 * Tier 2: Latchkey tokens. Shape and checksum first (a malformed or mistyped token never reaches
 * the database), then the node's cache, then one indexed lookup by hash on live rows.
 */
export function tokenAuthenticator(): Authenticator {
  const lastWrite = new Map<string, number>();

  const touch = (deps: TierDeps, id: string, req: CredentialRequest) => {
    const now = deps.clock.now();
    const prev = lastWrite.get(id) ?? 0;
    if (now.getTime() - prev < LAST_USED_INTERVAL_MS) return;
    if (lastWrite.size > 50_000) lastWrite.clear();
    lastWrite.set(id, now.getTime());
    touchLastUsed(deps.db, id, now).catch((err: Error) =>
      req.log.warn({ err: err.message }, 'could not record token use'),
    );
  };

  return async (req, deps) => {
    const bearer = bearerToken(req);
    const prefix = deps.config.tokenPrefix;
    if (!bearer?.startsWith(`${prefix}_`)) return null;
    // Longer than any token: refused unhashed, as parseToken would.
    if (bearer.length > MAX_TOKEN_LENGTH) throw invalidCredential();
    // A token this tier validated before is found by its hash: the cached entry was stored only
    // after this same string (SHA-256 names it) passed the shape, checksum and kind checks below.
    const hash = hashToken(bearer);
    const known = cachedApiToken(deps, hash);
    if (known) {
      touch(deps, known.id, req);
      return known.principal;
    }
    const parsed = parseToken(bearer, prefix);
    if (!parsed) throw invalidCredential();
    if (!KINDS.has(parsed.kind)) return null;
    // Read from the database, a personal token comes with its person's orgs: kept for this request
    // (and in the node's cache, as `membershipsOf` would keep them).
    const cred = await liveParsedToken(deps, hash, (userId, orgs, generation) => {
      deps.auth.putMemberships(userId, orgs, generation);
      membershipsReadWith(req, userId, orgs);
    });
    if (!cred) throw invalidCredential();
    touch(deps, cred.id, req);
    return cred.principal;
  };
}

/**
 * A live Latchkey API token (PAT, service, org or agent key) by its plaintext: shape and checksum
 * first, then this node's credential cache, then one indexed lookup. Null for anything else —
 * malformed, another kind, unknown, revoked or expired.
 */
export async function liveApiToken(deps: TierDeps, token: string): Promise<CachedCredential | null> {
  const parsed = parseToken(token, deps.config.tokenPrefix);
  if (!parsed || !KINDS.has(parsed.kind)) return null;
  return liveParsedToken(deps, hashToken(token));
}

/** What a lookup in the database read besides the credential: its person's orgs. */
type OnMemberships = (userId: string, orgs: OrgContext[], generation: number) => void;

/**
 * `liveApiToken` of a token (by its hash) whose shape, checksum and kind were checked already.
 * `onMemberships` gets the person's orgs when the token was read from the database.
 */
async function liveParsedToken(
  deps: TierDeps,
  hash: string,
  onMemberships?: OnMemberships,
): Promise<CachedCredential | null> {
  let cred = deps.auth.credential(hash);
  if (cred === undefined) {
    const generation = deps.auth.generation();
    const loaded = await load(deps, hash);
    cred = loaded?.cred ?? null;
    deps.auth.putCredential(hash, cred, generation);
    if (loaded?.orgs && cred?.principal.user)
      onMemberships?.(cred.principal.user.id, loaded.orgs, generation);
  }
  if (!cred || cred.oauth || (cred.expiresAt !== null && cred.expiresAt <= deps.clock.now().getTime()))
    return null;
  return cred;
}

/** A live API token from this node's cache alone (undefined when not cached there as live). */
function cachedApiToken(deps: TierDeps, hash: string): CachedCredential | undefined {
  const cred = deps.auth.credential(hash);
  if (!cred || cred.oauth || !KINDS.has(cred.principal.kind)) return undefined;
  if (cred.expiresAt !== null && cred.expiresAt <= deps.clock.now().getTime()) return undefined;
  return cred;
}

async function load(
  deps: Pick<Deps, 'db' | 'clock'>,
  hash: string,
): Promise<{ cred: CachedCredential; orgs: OrgContext[] | null } | null> {
  const row = await findLiveToken(deps.db, deps.clock, hash);
  if (!row) return null;
  const scopes = row.scopes
    ? typeof row.scopes === 'string'
      ? (JSON.parse(row.scopes) as string[])
      : row.scopes
    : null;
  const boundOrg =
    row.org_id && row.role
      ? { id: row.org_id, slug: row.org_slug!, name: row.org_name!, role: row.role }
      : null;
  const principal: Principal = {
    kind: row.kind,
    user:
      row.kind === 'pat' && row.user_id
        ? { id: row.user_id, email: row.user_email!, name: row.user_name! }
        : null,
    sessionId: null,
    boundOrg,
    defaultOrgId: null,
    scopes,
    prefix: row.prefix,
    actor: `${row.kind === 'org' ? 'org-token' : row.kind}:${row.prefix}`,
    superuser: false,
    tokenId: row.id,
    expiresAt: row.expires_at ? row.expires_at.getTime() : null,
    // Provenance: only a personal token that a browser session minted may act on the account.
    fromSession:
      row.kind === 'pat' &&
      row.created_by === 'session' &&
      row.parent_token_id === null &&
      row.parent_oauth_token_id === null,
    // A credential that is no person has no address to prove.
    emailVerified: row.kind === 'pat' ? row.user_email_verified_at !== null : true,
    signedInAt: null,
  };
  const memberships = typeof row.memberships === 'string' ? JSON.parse(row.memberships) : row.memberships;
  return {
    cred: { principal, expiresAt: row.expires_at ? row.expires_at.getTime() : null, id: row.id, boundOrg },
    orgs: principal.user && memberships ? (memberships as OrgContext[]) : null,
  };
}
