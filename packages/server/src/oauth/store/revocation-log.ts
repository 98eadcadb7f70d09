import type { AuthChange } from '../../auth/credential-cache.js';
import type { RevocationLogReader } from '../../auth/revocation-replay.js';
import type { Executor } from '../../db/executor.js';
import type { Deps } from '../../deps.js';

/**
 * The revocation log: one row per credential change (a token by its hash, a person or an org by
 * id). Each node replays it into its own credential cache, and resource servers read it as a stream.
 */

/** Appends a credential change to the revocation log (tokens by hash, people and orgs by id). */
export async function recordRevocation(deps: Pick<Deps, 'db' | 'clock'>, change: AuthChange): Promise<void> {
  const [kind, value] =
    'token' in change
      ? ['token', change.token]
      : 'user' in change
        ? ['user', change.user]
        : 'org' in change
          ? ['org', change.org]
          : [null, null];
  if (!kind || !value) return;
  await deps.db
    .insertInto('revocation_events')
    .values({ kind: kind as 'token' | 'user' | 'org', value, created_at: deps.clock.now() })
    .execute();
}

/**
 * The revocation log as each node replays it into its own credential cache, from its own cursor
 * (the log's id): the same rows the resource servers' stream sends.
 */
export function revocationLogReader(deps: Pick<Deps, 'db'>): RevocationLogReader {
  return {
    async after(after, limit) {
      const rows = await revocationsAfter(deps.db, after, limit);
      return rows.map((r) => ({
        id: String(r.id),
        change: (r.kind === 'token'
          ? { token: r.value }
          : r.kind === 'user'
            ? { user: r.value }
            : { org: r.value }) as AuthChange,
      }));
    },
    async end() {
      return lastRevocationId(deps.db);
    },
  };
}

/** Up to `limit` entries of the log after the id `after`, oldest first. */
export async function revocationsAfter(db: Executor, after: string, limit: number) {
  return db
    .selectFrom('revocation_events')
    .select(['id', 'kind', 'value'])
    .where('id', '>', after)
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** The id of the newest entry of the log ('0' while it is empty). */
export async function lastRevocationId(db: Executor): Promise<string> {
  const row = await db
    .selectFrom('revocation_events')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst();
  return row?.id ? String(row.id) : '0';
}
