import { issueSetupLink } from './accounts/setup.js';
import type { Config } from './config/index.js';
import { openConfiguredStorage } from './db/connection.js';
import { liveServerPid } from './db/data-dir.js';
import { migrate } from './db/migrate.js';
import { systemClock } from './lib/clock.js';

export type BootstrapResult =
  { ok: true; link: string } | { ok: false; reason: 'admin_exists' | 'embedded_in_use'; pid?: number };

/**
 * `latchkey-server admin bootstrap`: a fresh one-time setup link, made with the server's own
 * configuration and database, while no instance admin exists. On the embedded database it refuses
 * while a server runs on the same data folder (PGlite is one process's); restarting that server
 * prints a link too.
 */
export async function bootstrapLink(config: Config): Promise<BootstrapResult> {
  const pid = liveServerPid(config);
  if (pid !== null) return { ok: false, reason: 'embedded_in_use', pid };
  const storage = await openConfiguredStorage(config);
  try {
    await migrate(storage.db as never, storage.kind);
    const link = await issueSetupLink(storage.db, systemClock, config.publicUrl);
    return link ? { ok: true, link } : { ok: false, reason: 'admin_exists' };
  } finally {
    await storage.close();
  }
}
