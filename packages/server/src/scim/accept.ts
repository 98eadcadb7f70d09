import type { Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { reevaluateRoles } from './roles.js';

/**
 * Called when an invitation is accepted, in the same transaction: the SCIM record that waited on
 * it (if any) is linked to the account that accepted — the person proved the address — and their
 * role follows the record's groups. A person the org's SCIM already holds under another record
 * keeps that one; the pending record just stops waiting.
 */
export async function linkAcceptedInvitation(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  inv: { id: string; orgId: string },
  userId: string,
): Promise<void> {
  const row = await trx
    .selectFrom('scim_users')
    .select('id')
    .where('org_id', '=', inv.orgId)
    .where('invitation_id', '=', inv.id)
    .forUpdate()
    .executeTakeFirst();
  if (!row) return;
  const held = await trx
    .selectFrom('scim_users')
    .select('id')
    .where('org_id', '=', inv.orgId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  await trx
    .updateTable('scim_users')
    .set((eb) => ({
      invitation_id: null,
      ...(held ? {} : { user_id: userId }),
      version: eb('version', '+', 1),
      updated_at: clock.now(),
    }))
    .where('org_id', '=', inv.orgId)
    .where('id', '=', row.id)
    .execute();
  if (held) return;
  await reevaluateRoles(trx, clock, who, inv.orgId, [row.id]);
  await audit(trx, clock, who, {
    orgId: inv.orgId,
    action: 'scim.user_linked',
    target: `user:${userId}`,
    data: { scim_id: row.id, via: 'invitation' },
  });
}
