import type { Executor } from '../db/executor.js';

/** Account storage the account routes read and write directly (the rest lives beside its rule). */

/** An account's id, address and name; throws when it does not exist. */
export async function userSummary(db: Executor, userId: string) {
  return db
    .selectFrom('users')
    .select(['id', 'email', 'name'])
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
}

/** What a confirmation link is sent for: the account's address and whether it is verified already. */
export async function verificationTarget(db: Executor, userId: string) {
  return db
    .selectFrom('users')
    .select(['id', 'email', 'name', 'email_verified_at'])
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
}

/** The account's password hash (null: it has no password), or undefined when there is no such account. */
export async function passwordHashOf(db: Executor, userId: string) {
  return db.selectFrom('users').select('password_hash').where('id', '=', userId).executeTakeFirst();
}

/** Stores a new password hash for the account. */
export async function setPasswordHash(db: Executor, userId: string, hash: string, now: Date): Promise<void> {
  await db
    .updateTable('users')
    .set({ password_hash: hash, updated_at: now })
    .where('id', '=', userId)
    .execute();
}

/** Ends one live session; its token hash, or undefined when it had already ended. */
export async function endSession(db: Executor, sessionId: string, now: Date) {
  return db
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .returning('token_hash')
    .executeTakeFirst();
}

/** Ends a session whatever its state (a pending sign-in given up). */
export async function abandonSession(db: Executor, sessionId: string, now: Date): Promise<void> {
  await db.updateTable('sessions').set({ revoked_at: now }).where('id', '=', sessionId).execute();
}

/** One of the account's passkeys (its id), if it is theirs. */
export async function ownPasskey(db: Executor, userId: string, id: string) {
  return db
    .selectFrom('passkeys')
    .select('id')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

/** Deletes one of the account's passkeys. */
export async function deletePasskey(db: Executor, userId: string, id: string): Promise<void> {
  await db.deleteFrom('passkeys').where('id', '=', id).where('user_id', '=', userId).execute();
}
