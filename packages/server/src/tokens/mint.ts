import type { Transaction } from 'kysely';
import { type Actor, audit } from '../audit/log.js';
import type { ApiTokenKind, Database, Role } from '../db/schema.js';
import type { Principal } from '../http/auth.js';
import { ApiError } from '../http/errors.js';
import { addMs, type Clock } from '../lib/clock.js';
import { mintToken } from './format.js';
import { insertToken } from './queries.js';
import { outside } from './scopes.js';

export const TOKEN_NAME_MAX = 100;
export const TOKEN_MIN_LIFETIME_S = 60;
export const TOKEN_MAX_LIFETIME_S = 366 * 24 * 3600;

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
  /** Every scope this kind of token may carry. */
  allowed: readonly string[];
  userId: string | null;
  orgId: string | null;
  role: Role | null;
  minter: Principal;
  tokenPrefix: string;
}

/**
 * Mints and stores a token, audits it, and returns the plaintext (shown once). A token minted by
 * a scoped credential can never hold more than that credential: no escalation by minting.
 */
export async function mint(trx: Transaction<Database>, clock: Clock, who: Actor, r: MintRequest) {
  if (r.scopes) {
    const unknown = outside(r.scopes, r.allowed);
    if (unknown.length)
      throw new ApiError('invalid_request', `Scopes not available here: ${unknown.join(', ')}.`, {
        extra: { scopes: unknown },
      });
  }
  let scopes: string[] | null = r.scopes ? [...new Set(r.scopes)] : null;
  if (r.minter.scopes !== null) {
    if (scopes === null) scopes = r.allowed.filter((s) => r.minter.scopes!.includes(s));
    const beyond = outside(scopes, r.minter.scopes);
    if (beyond.length)
      throw new ApiError(
        'forbidden',
        `The credential cannot grant scopes it does not hold: ${beyond.join(', ')}.`,
      );
  }
  const t = mintToken(r.kind, r.tokenPrefix);
  const now = clock.now();
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
    expiresAt: r.expiresIn ? addMs(now, r.expiresIn * 1000) : null,
  });
  await audit(trx, clock, who, {
    orgId: r.orgId,
    action: 'token.created',
    target: `token:${row.id}`,
    data: {
      kind: r.kind,
      prefix: t.display,
      name: r.name,
      scopes,
      expires_at: row.expires_at?.toISOString() ?? null,
    },
  });
  return { row, token: t.token, scopes: scopes ?? [...r.allowed] };
}
