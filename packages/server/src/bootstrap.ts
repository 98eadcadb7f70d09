import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueSetupLink } from './accounts/setup.js';
import type { Config } from './config/index.js';
import { openStorage } from './db/connection.js';
import { migrate } from './db/migrate.js';
import { systemClock } from './lib/clock.js';

/** Where a server on the embedded database notes its pid: its data folder belongs to one process. */
const PID_FILE = 'server.pid';

/**
 * Marks the embedded data folder as in use by this process; returns the function that unmarks it.
 * PostgreSQL needs no mark: any number of processes may use it.
 */
export function markDataDirInUse(config: Config): () => void {
  if (config.databaseUrl) return () => {};
  const file = join(config.dataDir, PID_FILE);
  writeFileSync(file, String(process.pid));
  return () => rmSync(file, { force: true });
}

/** The pid of a live server holding the embedded data folder, or null. */
export function liveServerPid(config: Config): number | null {
  if (config.databaseUrl) return null;
  let pid: number;
  try {
    pid = Number(readFileSync(join(config.dataDir, PID_FILE), 'utf8'));
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

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
  const storage = await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await migrate(storage.db as never, storage.kind);
    const link = await issueSetupLink(storage.db, systemClock, config.publicUrl);
    return link ? { ok: true, link } : { ok: false, reason: 'admin_exists' };
  } finally {
    await storage.close();
  }
}
