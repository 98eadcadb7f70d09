import { liveServerPid } from '../../db/data-dir.js';
import { openCache } from '../../cache/index.js';
import type { Config } from '../../config/index.js';
import { openConfiguredStorage } from '../../db/connection.js';
import { migrate } from '../../db/migrate.js';
import { systemClock } from '../../lib/clock.js';
import { createKeyStore } from './key-store.js';
import type { RotationResult } from './keys.js';

export class EmbeddedInUseError extends Error {
  constructor(readonly pid: number) {
    super(
      `a server (pid ${pid}) is running on the embedded database; rotate through it instead: ` +
        'POST /api/v1/admin/signing-keys/rotate',
    );
    this.name = 'EmbeddedInUseError';
  }
}

/**
 * `latchkey-server keys rotate`: rotates with this server's configuration and database, and
 * announces it on the shared cache (Redis) so running nodes drop their copy at once. The embedded
 * database belongs to one process: while a server runs on it, this refuses (use the admin API).
 */
export async function rotateKeysNow(config: Config): Promise<RotationResult[]> {
  const pid = liveServerPid(config);
  if (pid !== null) throw new EmbeddedInUseError(pid);
  const storage = await openConfiguredStorage(config);
  try {
    await migrate(storage.db as never, storage.kind);
    const cache = await openCache({ redisUrl: config.redisUrl });
    try {
      const keys = createKeyStore({ db: storage.db, cache, clock: systemClock, config });
      return await keys.rotate();
    } finally {
      await cache.close();
    }
  } finally {
    await storage.close();
  }
}
