import type { Db } from '../../src/db/connection.js';
import type { Clock } from '../../src/lib/clock.js';
import { mintToken } from '../../src/tokens/format.js';
import { insertToken } from '../../src/tokens/queries.js';

/**
 * A PAT or org key an unverified account holds, written straight to storage: the API no longer
 * lets such an account mint one, but accounts made before that rule may have them, and proving
 * the address must end them all the same. Returns the plaintext token.
 */
export async function plantToken(
  db: Db,
  clock: Clock,
  t: { kind: 'pat' | 'org'; userId: string; orgId?: string; name: string; scopes: string[] },
): Promise<string> {
  const m = mintToken(t.kind);
  await insertToken(db, clock, {
    kind: t.kind,
    hash: m.hash,
    prefix: m.display,
    name: t.name,
    scopes: t.scopes,
    userId: t.kind === 'pat' ? t.userId : null,
    orgId: t.kind === 'org' ? (t.orgId ?? null) : null,
    role: t.kind === 'org' ? 'admin' : null,
    createdBy: `user:${t.userId}`,
    createdByUser: t.userId,
    expiresAt: null,
  });
  return m.token;
}
