import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';

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
