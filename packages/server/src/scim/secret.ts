import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Deps } from '../deps.js';
import { hashToken, mintToken, parseToken } from '../tokens/format.js';
import { findConfigByTokenHash, setToken } from './queries.js';

/**
 * The per-org SCIM bearer secret (`lk_scim_…`): one live secret per org, so a leak affects that
 * org alone. Stored only as SHA-256; shown once; a new one replaces the old at once. It is no
 * credential anywhere but the SCIM endpoints (the API's token tier does not know the kind).
 */

type SecretDeps = Pick<Deps, 'db' | 'clock' | 'config'>;

/** Mints the org's secret, replacing any previous one in the same transaction. */
export async function issueSecret(deps: SecretDeps, who: Actor, orgId: string) {
  const t = mintToken('scim', deps.config.tokenPrefix);
  const previous = await deps.db.transaction().execute(async (trx) => {
    const previous = await setToken(trx, deps.clock, {
      orgId,
      hash: t.hash,
      prefix: t.display,
      createdBy: who.actor,
    });
    await audit(trx, deps.clock, who, {
      orgId,
      action: previous ? 'scim.token_rotated' : 'scim.token_created',
      target: `org:${orgId}`,
      data: { prefix: t.display, ...(previous ? { previous_prefix: previous } : {}) },
    });
    return previous;
  });
  return { token: t.token, prefix: t.display, rotated: previous !== null };
}

/** Turns SCIM off for the org: the secret stops working at once. False when there was none. */
export async function removeSecret(deps: SecretDeps, who: Actor, orgId: string): Promise<boolean> {
  return deps.db.transaction().execute(async (trx) => {
    const previous = await setToken(trx, deps.clock, { orgId, hash: null, prefix: null, createdBy: null });
    if (!previous) return false;
    await audit(trx, deps.clock, who, {
      orgId,
      action: 'scim.token_deleted',
      target: `org:${orgId}`,
      data: { prefix: previous },
    });
    return true;
  });
}

/**
 * The org a SCIM secret belongs to, or null — for a malformed string, another kind of token, or
 * a secret that was rotated away or removed. Shape and checksum first; then one indexed lookup.
 */
export async function orgOfSecret(deps: SecretDeps, token: string) {
  const parsed = parseToken(token, deps.config.tokenPrefix);
  if (parsed?.kind !== 'scim') return null;
  const row = await findConfigByTokenHash(deps.db, hashToken(token));
  return row ? { orgId: row.org_id, prefix: parsed.display } : null;
}
