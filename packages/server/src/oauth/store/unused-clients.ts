import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { type Actor } from '../../auth/principal.js';
import { audit } from '../../audit/log.js';
import type { Database } from '../../db/schema.js';
import type { AuthCache } from '../../auth/credential-cache.js';
import { addMs, type Clock } from '../../lib/clock.js';
import { every } from '../../lib/every.js';

/**
 * Dynamically registered clients that never completed an authorization — no person ever
 * consented, so no grant, code or token refers to them — are deleted once they are this old.
 * Hosted connectors register often from shared addresses; this keeps open registration from
 * filling the database.
 */
export const UNUSED_REGISTRATION_TTL_MS = 24 * 3_600_000;
/** How often the running server looks for them. */
export const UNUSED_REGISTRATION_TICK_MS = 3_600_000;
/** Deleted per transaction. */
const BATCH = 500;

const SYSTEM: Actor = { actor: 'system', ip: null, userAgent: null };

export interface UnusedClientsDeps {
  db: Kysely<Database>;
  clock: Clock;
  auth: Pick<AuthCache, 'changed'>;
}

/**
 * Deletes registered (`kind = 'dcr'`) clients older than `UNUSED_REGISTRATION_TTL_MS` that have
 * no grant and no org's approval, each audited as `oauth.client_expired`. Org apps and metadata-document clients are
 * never touched. Returns the ids deleted.
 */
export async function deleteUnusedRegistrations(deps: UnusedClientsDeps): Promise<string[]> {
  const { db, clock } = deps;
  const before = addMs(clock.now(), -UNUSED_REGISTRATION_TTL_MS);
  const deleted: string[] = [];
  for (;;) {
    const batch = await db.transaction().execute(async (trx) => {
      const rows = await trx
        .deleteFrom('oauth_clients')
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('oauth_clients as c')
            .select('c.id')
            .where('c.kind', '=', 'dcr')
            .where('c.created_at', '<', before)
            .where(({ not, exists, selectFrom }) =>
              not(
                exists(selectFrom('oauth_grants as g').select('g.id').whereRef('g.client_id', '=', 'c.id')),
              ),
            )
            // An org admin approved it: kept for the org's members, used or not.
            .where(({ not, exists, selectFrom }) =>
              not(
                exists(
                  selectFrom('oauth_client_approvals as a')
                    .select('a.id')
                    .whereRef('a.client_id', '=', 'c.id'),
                ),
              ),
            )
            .limit(BATCH),
        )
        // Re-checked on the row itself: a consent recorded meanwhile keeps the client.
        .where('kind', '=', 'dcr')
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('oauth_grants as g2')
                .select('g2.id')
                .whereRef('g2.client_id', '=', 'oauth_clients.id'),
            ),
          ),
        )
        .returning(['id', 'name', 'created_at'])
        .execute();
      for (const r of rows) {
        await audit(trx, clock, SYSTEM, {
          orgId: null,
          action: 'oauth.client_expired',
          target: `client:${r.id}`,
          data: {
            client_id: r.id,
            name: r.name,
            registered_at: r.created_at.toISOString(),
            reason: 'never_authorized',
          },
          subjectUserId: null,
        });
      }
      return rows.map((r) => r.id);
    });
    for (const id of batch) await deps.auth.changed({ client: id });
    deleted.push(...batch);
    if (batch.length < BATCH) return deleted;
  }
}

/**
 * Runs `deleteUnusedRegistrations` every `UNUSED_REGISTRATION_TICK_MS` on an unref'd timer (it
 * never holds the process open), one run at a time, logging what it deleted; returns the stop.
 */
export function scheduleUnusedRegistrationCleanup(
  deps: UnusedClientsDeps & { log: Pick<Logger, 'info' | 'error'> },
): () => void {
  return every(
    UNUSED_REGISTRATION_TICK_MS,
    async () => {
      const ids = await deleteUnusedRegistrations(deps);
      if (ids.length > 0)
        deps.log.info({ clients: ids.length }, 'deleted registered clients never authorized');
    },
    (err) => deps.log.error({ err }, 'unused client cleanup failed'),
  );
}
