/** The files configuration reads: the TOML config file, and the development secret it generates. */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ConfigError } from './errors.js';
import { SETTINGS, TOML_SECTIONS } from './settings.js';

/** The development default for LATCHKEY_SECRET, generated once into the data folder. */
export const DEV_SECRET_FILE = 'secret.key';

/**
 * The development secret in `path`: read, or created once (random, mode 0600). Written to a
 * temporary file and linked into place, so two processes starting on one folder agree on it.
 */
export function devSecret(path: string): string {
  const read = () => readFileSync(path, 'utf8').trim();
  if (existsSync(path)) return read();
  mkdirSync(resolve(path, '..'), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  return read();
}

export function readConfigFile(
  env: Record<string, string | undefined>,
  cwd: string,
): { file: Record<string, unknown>; path: string | null } {
  const named = env.LATCHKEY_CONFIG;
  const path = resolve(cwd, named && named !== '' ? named : 'latchkey.toml');
  if (!existsSync(path)) {
    if (named) throw new ConfigError('LATCHKEY_CONFIG', `file not found: ${path}`);
    return { file: {}, path: null };
  }
  let file: Record<string, unknown>;
  try {
    file = parseToml(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    // Only the parser's first line and the position: its code frame quotes the file, and the file
    // may hold a database password.
    const e = err as Error & { line?: number; column?: number };
    const where = typeof e.line === 'number' ? ` (line ${e.line}, column ${e.column ?? '?'})` : '';
    throw new ConfigError(
      'LATCHKEY_CONFIG',
      `${path} is not valid TOML${where}: ${e.message.split('\n')[0]}`,
    );
  }
  const known = new Set<string>(Object.values(SETTINGS));
  for (const key of Object.keys(file)) {
    if (!known.has(key) && !TOML_SECTIONS.has(key)) {
      throw new ConfigError(key, `unknown setting in ${path}`);
    }
  }
  return { file, path };
}
