import type { Executor } from '../db/executor.js';

/** Instance-admin storage that is not about listing accounts (that is `users.ts`). */

/** An org's name, or undefined when there is no such org. */
export async function orgName(db: Executor, orgId: string) {
  return db.selectFrom('orgs').select('name').where('id', '=', orgId).executeTakeFirst();
}

/** Removes an account's password (it signs in again by a reset link); its id and address, or undefined. */
export async function clearPassword(db: Executor, userId: string, now: Date) {
  return db
    .updateTable('users')
    .set({ password_hash: null, updated_at: now })
    .where('id', '=', userId)
    .returning(['id', 'email'])
    .executeTakeFirst();
}
