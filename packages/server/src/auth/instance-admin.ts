import type { Db } from '../db/connection.js';
import type { Principal } from './principal.js';
import { ApiError } from '../errors.js';

/**
 * Instance admins (operators) manage what belongs to the whole server: the sign-up policy and
 * the waitlist. One is a person whose `users.instance_admin` is set (the first owner `/setup`
 * made), calling with a credential that carries all of their authority (a session, or a personal
 * token minted without scopes) — a scoped token never does. `ADMIN_TOKEN` (break-glass) also is.
 * Throws 403 `forbidden` otherwise.
 */
export async function requireInstanceAdmin(db: Db, p: Principal): Promise<void> {
  if (p.superuser) return;
  const refuse = () => new ApiError('forbidden', 'Only instance admins may do this.');
  if (!p.user || p.scopes !== null) throw refuse();
  const row = await db
    .selectFrom('users')
    .select('instance_admin')
    .where('id', '=', p.user.id)
    .executeTakeFirst();
  if (row?.instance_admin !== true) throw refuse();
}
