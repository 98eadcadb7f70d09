import type { Logger } from 'pino';
import type { Cache } from '../../cache/index.js';
import type { Config } from '../../config/index.js';
import type { Db } from '../../db/connection.js';
import { type Clock, HOUR } from '../../lib/clock.js';
import { every } from '../../lib/every.js';
import { KEYS_CHANNEL } from './key-store.js';
import { type KeyTickResult, tickKeys } from './keys.js';

/** How often each node looks at the key set (every node may; the database serialises them). */
export const KEY_TICK_MS = HOUR;

export interface KeyScheduleDeps {
  db: Db;
  cache: Cache;
  clock: Clock;
  config: Pick<Config, 'secrets' | 'keyRotationDays' | 'signingAlg'>;
  log: Pick<Logger, 'info' | 'error'>;
}

/** One tick: the key work of `tickKeys`, logged, and announced to every node when anything changed. */
export async function runKeyTick(deps: KeyScheduleDeps): Promise<KeyTickResult> {
  const r = await tickKeys(deps.db, deps.clock, deps.config);
  if (r.created.length || r.published.length || r.rotated.length || r.deleted) {
    deps.log.info(
      {
        created: r.created,
        published: r.published,
        rotated: r.rotated.map((x) => ({ alg: x.alg, current: x.current, retired: x.retired })),
        deleted: r.deleted,
      },
      'signing keys changed',
    );
    await deps.cache.publish(KEYS_CHANNEL, String(Date.now()));
  }
  return r;
}

/** Runs a tick now (so a first start has a key before it serves), then every KEY_TICK_MS. */
export async function scheduleKeyRotation(deps: KeyScheduleDeps): Promise<() => void> {
  await runKeyTick(deps);
  return every(
    KEY_TICK_MS,
    () => runKeyTick(deps),
    (err) => deps.log.error({ err }, 'signing key tick failed'),
  );
}
