import type { Catalogue } from '../../tokens/catalogue.js';
import type { Executor } from '../../db/executor.js';

/**
 * Admin-approved clients: an org admin marks a client as approved for the org, and its members
 * then skip the consent screen for that client's scopes that are not high-risk. Only a request
 * whose every scope is ordinary is approved this way; a high-risk scope always asks the person.
 */

/** Whether every requested scope may be approved on a person's behalf (none is high-risk). */
export function approvableScopes(catalogue: Catalogue, scopes: readonly string[]): boolean {
  return scopes.length > 0 && scopes.every((s) => catalogue.scope(s).risk !== 'high');
}

/** The one org among `orgIds` that approved `clientId`, or null when none or several did. */
export async function approvingOrg(
  db: Executor,
  clientId: string,
  orgIds: readonly string[],
): Promise<string | null> {
  if (orgIds.length === 0) return null;
  const rows = await db
    .selectFrom('oauth_client_approvals')
    .select('org_id')
    .where('client_id', '=', clientId)
    .where('org_id', 'in', orgIds)
    .limit(2)
    .execute();
  return rows.length === 1 ? rows[0]!.org_id : null;
}

function approvalsQuery(db: Executor) {
  return db
    .selectFrom('oauth_client_approvals as a')
    .innerJoin('oauth_clients as c', 'c.id', 'a.client_id')
    .select([
      'a.id',
      'a.org_id',
      'a.client_id',
      'c.name as client_name',
      'c.kind',
      'a.approved_by',
      'a.created_at',
    ]);
}

/** An approval with its client's name and kind, as the admin API lists it. */
export type ApprovalRow = Awaited<ReturnType<ReturnType<typeof approvalsQuery>['execute']>>[number];

/** The org's approvals, newest first, at most `limit`. */
export async function approvalsOf(db: Executor, orgId: string, limit: number): Promise<ApprovalRow[]> {
  return approvalsQuery(db)
    .where('a.org_id', '=', orgId)
    .orderBy('a.created_at', 'desc')
    .limit(limit)
    .execute();
}

/** One approval by its id; throws when it does not exist. */
export async function approvalById(db: Executor, id: string): Promise<ApprovalRow> {
  return approvalsQuery(db).where('a.id', '=', id).executeTakeFirstOrThrow();
}

/** Records that an org approved a client (a unique index refuses a second approval of the same client). */
export async function insertApproval(
  db: Executor,
  a: { id: string; orgId: string; clientId: string; approvedBy: string },
  now: Date,
): Promise<void> {
  await db
    .insertInto('oauth_client_approvals')
    .values({
      id: a.id,
      org_id: a.orgId,
      client_id: a.clientId,
      approved_by: a.approvedBy,
      created_at: now,
    })
    .execute();
}

/** Withdraws one of the org's approvals; its id and client, or undefined when there was none. */
export async function deleteApproval(db: Executor, orgId: string, id: string) {
  return db
    .deleteFrom('oauth_client_approvals')
    .where('id', '=', id)
    .where('org_id', '=', orgId)
    .returning(['id', 'client_id'])
    .executeTakeFirst();
}
