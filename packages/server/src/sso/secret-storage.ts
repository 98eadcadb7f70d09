import { sql } from 'kysely';
import type { Config } from '../config/index.js';
import type { Db } from '../db/connection.js';
import { SEALED_PREFIX } from '../lib/secret-box.js';
import { sealClientSecret } from './connections.js';

/**
 * Seals the OIDC client secrets that are still stored in plaintext (rows written before secrets
 * were encrypted at rest). Runs after the schema migrations, at every start and in
 * `latchkey-server migrate`: it needs LATCHKEY_SECRET, which migrations never see. Idempotent;
 * each row is updated only while it is still plaintext, so two nodes starting at once do not
 * seal a value twice. Returns how many it sealed.
 */
export async function sealStoredClientSecrets(db: Db, config: Pick<Config, 'secrets'>): Promise<number> {
  const rows = await db
    .selectFrom('sso_connections')
    .select(['id', 'oidc_client_secret'])
    .where('oidc_client_secret', 'is not', null)
    .where(sql<boolean>`left(oidc_client_secret, ${SEALED_PREFIX.length}) <> ${SEALED_PREFIX}`)
    .execute();
  let sealed = 0;
  for (const r of rows) {
    const done = await db
      .updateTable('sso_connections')
      .set({ oidc_client_secret: sealClientSecret(config, r.oidc_client_secret!) })
      .where('id', '=', r.id)
      .where('oidc_client_secret', '=', r.oidc_client_secret)
      .executeTakeFirst();
    sealed += Number(done.numUpdatedRows);
  }
  return sealed;
}
