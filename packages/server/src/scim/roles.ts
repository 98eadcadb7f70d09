import type { Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import type { Role } from '../db/schema/orgs.js';
import type { Clock } from '../lib/clock.js';
import { ScimError } from './errors.js';
import { ROLE_BATCH } from './limits.js';
import { addMembership, type MappableRole, revokeOrgCredentials, roleInputs } from './queries.js';

/**
 * What SCIM does to memberships: a provisioned person's role follows the groups mapped to a role
 * (the highest wins; `member` when none maps one), deprovisioning removes the membership and the
 * org-bound credentials with it, and owners are never changed — they are managed in Latchkey.
 */

const RANK: Readonly<Record<MappableRole, number>> = { billing: 1, member: 2, admin: 3 };

/** The role a person's mapped groups give them: the highest, or `member` when none maps a role. */
export function effectiveRole(mapped: readonly (MappableRole | null)[]): MappableRole {
  let best: MappableRole | null = null;
  for (const r of mapped) if (r && (!best || RANK[r] > RANK[best])) best = r;
  return best ?? 'member';
}

async function mappedRoles(trx: Transaction<Database>, orgId: string, ids: readonly string[]) {
  const byUser = new Map<
    string,
    { userId: string | null; current: Role | null; mapped: (MappableRole | null)[] }
  >();
  for (let i = 0; i < ids.length; i += ROLE_BATCH) {
    for (const r of await roleInputs(trx, orgId, ids.slice(i, i + ROLE_BATCH))) {
      const e = byUser.get(r.id) ?? { userId: r.user_id, current: r.current, mapped: [] };
      e.mapped.push(r.mapped);
      byUser.set(r.id, e);
    }
  }
  return byUser;
}

/**
 * Brings these SCIM users' roles in line with their groups. Returns the accounts whose role
 * changed (their cached memberships must be dropped). Each change is compare-and-set, so a role
 * an admin or a transfer changed meanwhile — or an owner's — is left alone.
 */
export async function reevaluateRoles(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  orgId: string,
  scimUserIds: readonly string[],
): Promise<string[]> {
  const changed: string[] = [];
  for (const [, e] of await mappedRoles(trx, orgId, [...new Set(scimUserIds)])) {
    // No membership (deprovisioned, or a pending record with no account): nothing to change.
    if (e.userId === null || e.current === null || e.current === 'owner') continue;
    const to = effectiveRole(e.mapped);
    if (to === e.current) continue;
    const done = await trx
      .updateTable('memberships')
      .set({ role: to })
      .where('org_id', '=', orgId)
      .where('user_id', '=', e.userId)
      .where('role', '=', e.current)
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) === 0) continue;
    await audit(trx, clock, who, {
      orgId,
      action: 'member.role_changed',
      target: `user:${e.userId}`,
      data: { from: e.current, to, via: 'scim' },
    });
    changed.push(e.userId);
  }
  return changed;
}

/**
 * Deprovisions: removes the membership and revokes the person's OAuth grants and tokens in this
 * org. Returns the role they had, or null when they were not a member. An owner → 403.
 */
export async function deactivate(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  orgId: string,
  userId: string,
): Promise<Role | null> {
  const gone = await trx
    .deleteFrom('memberships')
    .where('org_id', '=', orgId)
    .where('user_id', '=', userId)
    .where('role', '<>', 'owner')
    .returning('role')
    .executeTakeFirst();
  if (!gone) {
    const owner = await trx
      .selectFrom('memberships')
      .select('role')
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (owner)
      throw new ScimError(
        'forbidden',
        'Owners are managed in Latchkey, not by SCIM: transfer the ownership before deprovisioning.',
      );
    return null;
  }
  const revoked = await revokeOrgCredentials(trx, clock, orgId, userId);
  await audit(trx, clock, who, {
    orgId,
    action: 'member.removed',
    target: `user:${userId}`,
    data: {
      role: gone.role,
      via: 'scim',
      oauth_grants_revoked: revoked.grants,
      oauth_tokens_revoked: revoked.tokens,
    },
  });
  return gone.role;
}

/** (Re)provisions: adds the membership with the role the person's groups give. Null when already a member. */
export async function activate(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  orgId: string,
  u: { userId: string; scimId: string },
): Promise<Role | null> {
  const roles = await mappedRoles(trx, orgId, [u.scimId]);
  const e = roles.get(u.scimId);
  if (e?.current) return null;
  const role = effectiveRole(e?.mapped ?? []);
  await addMembership(trx, clock, orgId, u.userId, role);
  await audit(trx, clock, who, {
    orgId,
    action: 'member.added',
    target: `user:${u.userId}`,
    data: { role, via: 'scim' },
  });
  return role;
}
