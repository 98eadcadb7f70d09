import type { Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { ApiTokenKind } from '../db/schema/tokens.js';
import type { Database } from '../db/schema.js';
import type { Role } from '../db/schema/orgs.js';
import type { Principal } from '../auth/principal.js';
import { ApiError } from '../errors.js';
import { addMs, type Clock } from '../lib/clock.js';
import { mintToken } from './format.js';
import { insertToken } from './queries.js';
import { DEFAULT_TOKEN_SCOPES, outside } from './scopes.js';

export const TOKEN_NAME_MAX = 100;
export const TOKEN_MIN_LIFETIME_S = 60;
export const TOKEN_MAX_LIFETIME_S = 366 * 24 * 3600;
/** A token minted without an explicit lifetime lives this long, like the dashboard's. */
export const TOKEN_DEFAULT_LIFETIME_S = 90 * 24 * 3600;

/** How a new token records where it came from: `session`, `admin-token`, `org-token:<prefix>`, `pat:<prefix>`… */
export function provenance(p: Principal): string {
  switch (p.kind) {
    case 'session':
      return 'session';
    case 'admin-token':
      return 'admin-token';
    case 'org':
      return `org-token:${p.prefix}`;
    default:
      return `${p.kind}:${p.prefix}`;
  }
}

export interface MintRequest {
  kind: ApiTokenKind;
  name: string | null;
  /** Requested scopes; undefined → the default for the kind. */
  scopes: string[] | undefined;
  expiresIn: number | undefined;
  /** Asked for explicitly: no expiry (refused when the minter itself expires). */
  neverExpires?: boolean;
  /**
   * An exact expiry instead of a lifetime, as a rotation keeps its token's. Refused like an
   * explicit lifetime when it outlives the minter.
   */
  expiresAt?: Date;
  /** Every scope this kind of token may carry. */
  allowed: readonly string[];
  userId: string | null;
  orgId: string | null;
  role: Role | null;
  minter: Principal;
  tokenPrefix: string;
  /** Set when the token replaces another (rotation): audited as `token.rotated`, naming the old one. */
  replaces?: { prefix: string; descendants: string[] };
}

/** A person who has not proven their address holds no power to hand out: no tokens, no apps. */
export function requireVerifiedEmail(p: Principal): void {
  if (p.user && !p.emailVerified)
    throw new ApiError('email_unverified', 'Verify your email address (use the link we mailed) first.');
}

/** Where the minting credential's bounds come from: a token parent, or none (session, admin token). */
function parentOf(p: Principal): { parentTokenId: string | null; parentOAuthTokenId: string | null } {
  if (p.kind === 'oauth') return { parentTokenId: null, parentOAuthTokenId: p.tokenId };
  if (p.kind === 'session' || p.kind === 'admin-token')
    return { parentTokenId: null, parentOAuthTokenId: null };
  return { parentTokenId: p.tokenId, parentOAuthTokenId: null };
}

/**
 * When the new token expires. No lifetime asked for: TOKEN_DEFAULT_LIFETIME_S, shortened to the
 * minter's own expiry. An explicit lifetime (or no expiry) that outlives the minter is refused.
 */
function expiryOf(now: Date, r: MintRequest): Date | null {
  const parentEnd = r.minter.kind === 'session' ? null : r.minter.expiresAt;
  if (r.expiresAt) {
    if (parentEnd !== null && r.expiresAt.getTime() > parentEnd) throw outlives(parentEnd);
    return r.expiresAt;
  }
  if (r.neverExpires) {
    if (r.expiresIn !== undefined)
      throw new ApiError('invalid_request', 'Send either expires_in or never_expires, not both.');
    if (parentEnd !== null)
      throw new ApiError(
        'invalid_request',
        'The credential minting this token expires, so the token must expire too (no later than it).',
      );
    return null;
  }
  const asked = r.expiresIn !== undefined;
  const at = addMs(now, (r.expiresIn ?? TOKEN_DEFAULT_LIFETIME_S) * 1000);
  if (parentEnd === null || at.getTime() <= parentEnd) return at;
  if (asked) throw outlives(parentEnd);
  return new Date(parentEnd);
}

function outlives(parentEnd: number): ApiError {
  const at = new Date(parentEnd).toISOString();
  return new ApiError(
    'invalid_request',
    `A token cannot outlive the credential minting it (it expires ${at}).`,
    {
      extra: { max_expires_at: at },
    },
  );
}

/**
 * Mints and stores a token, audits it, and returns the plaintext (shown once). A token minted by
 * another credential never outgrows it: at most its scopes, at most its org, expiring no later,
 * and recorded as its child so that it is revoked with it. No scopes named → `org:read` only.
 */
export async function mint(trx: Transaction<Database>, clock: Clock, who: Actor, r: MintRequest) {
  requireVerifiedEmail(r.minter);
  if (r.scopes) {
    const unknown = outside(r.scopes, r.allowed);
    if (unknown.length)
      throw new ApiError('invalid_request', `Scopes not available here: ${unknown.join(', ')}.`, {
        extra: { scopes: unknown },
      });
  }
  const scopes: string[] = r.scopes
    ? [...new Set(r.scopes)]
    : DEFAULT_TOKEN_SCOPES.filter((s) => r.allowed.includes(s));
  if (r.minter.scopes !== null) {
    const beyond = outside(scopes, r.minter.scopes);
    if (beyond.length)
      throw new ApiError(
        'forbidden',
        `The credential cannot grant scopes it does not hold: ${beyond.join(', ')}.`,
        { extra: { scopes: beyond } },
      );
  }
  if (r.minter.boundOrg && r.orgId !== r.minter.boundOrg.id)
    throw new ApiError('org_forbidden', 'A credential bound to an org mints only for that org.');
  // An org an operator suspended gets no new keys (its old ones were revoked by the suspension).
  if (r.orgId !== null) {
    const suspended = await trx
      .selectFrom('agent_org_suspensions')
      .select('org_id')
      .where('org_id', '=', r.orgId)
      .executeTakeFirst();
    if (suspended)
      throw new ApiError('org_suspended', 'This organisation is suspended; no keys can be minted for it.');
  }
  const now = clock.now();
  const expiresAt = expiryOf(now, r);
  const t = mintToken(r.kind, r.tokenPrefix);
  const row = await insertToken(trx, clock, {
    kind: r.kind,
    hash: t.hash,
    prefix: t.display,
    name: r.name,
    scopes,
    userId: r.userId,
    orgId: r.orgId,
    role: r.role,
    createdBy: provenance(r.minter),
    createdByUser: r.minter.user?.id ?? null,
    expiresAt,
    ...parentOf(r.minter),
  });
  await audit(trx, clock, who, {
    orgId: r.orgId,
    action: r.replaces ? 'token.rotated' : 'token.created',
    target: `token:${row.id}`,
    data: {
      kind: r.kind,
      prefix: t.display,
      name: r.name,
      scopes,
      expires_at: row.expires_at?.toISOString() ?? null,
      parent: row.parent_token_id ?? row.parent_oauth_token_id,
      ...(r.replaces ? { replaces: r.replaces.prefix, descendants: r.replaces.descendants } : {}),
    },
  });
  return { row, token: t.token, scopes };
}
