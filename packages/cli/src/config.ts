import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse, stringify } from 'smol-toml';
import { CliError, EXIT, usageError } from './errors.js';

/** The server used when neither `--server`, LATCHKEY_URL nor a remembered default names one. */
export const DEFAULT_SERVER = 'http://localhost:8484';
/** How long a writer waits for another latchkey process to finish with the config file. */
export const LOCK_WAIT_MS = 10_000;
/** A lock file older than this was left behind by a process that died; it is taken over. */
export const LOCK_STALE_MS = 30_000;

/** What the environment says. The only place the CLI reads `process.env`. */
export interface Env {
  /** LATCHKEY_URL: the server, unless `--server` names one. */
  readonly url: string | undefined;
  /** LATCHKEY_TOKEN: a bearer used instead of stored credentials, never written anywhere. */
  readonly token: string | undefined;
  /** `$XDG_CONFIG_HOME/latchkey/config.toml`, else `~/.config/latchkey/config.toml`. */
  readonly configPath: string;
  /** LATCHKEY_SERVER_BIN: the `latchkey-server` program `admin` commands run (default: from PATH). */
  readonly serverBin: string | undefined;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): Env {
  const xdg = env.XDG_CONFIG_HOME;
  // XDG Base Directory spec: a relative XDG_CONFIG_HOME is invalid and ignored.
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.config');
  return Object.freeze({
    url: env.LATCHKEY_URL?.trim() || undefined,
    token: env.LATCHKEY_TOKEN?.trim() || undefined,
    configPath: join(base, 'latchkey', 'config.toml'),
    serverBin: env.LATCHKEY_SERVER_BIN?.trim() || undefined,
  });
}

/** A server URL as the config file keys it: scheme, host, port and path, without a trailing slash. */
export function normalizeServer(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw usageError(`Not a server URL: ${JSON.stringify(raw)} (expected e.g. https://auth.example.com).`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw usageError(`The server URL must use http or https: ${u.protocol}`);
  if (u.username || u.password || u.search || u.hash)
    throw usageError('The server URL must not carry credentials, a query or a fragment.');
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** An OAuth sign-in (`latchkey login`). */
export interface Session {
  access_token: string;
  refresh_token?: string;
  /** ISO 8601; when the access token stops working. */
  expires_at: string;
  scope: string;
  user_id?: string;
  email?: string;
  /** The org the person consented in: the default for org commands. */
  org_id?: string;
  org_slug?: string;
}

/** The key an agent got from `latchkey agent signup`. */
export interface AgentKey {
  api_key: string;
  agent_id: string;
  org_id: string;
  status: string;
  human_email?: string;
}

export interface ServerEntry {
  /** The public OAuth client this CLI registered at the server, once. */
  client_id?: string;
  session?: Session;
  agent?: AgentKey;
}

export interface ConfigFile {
  default_server?: string;
  servers: Record<string, ServerEntry>;
}

const HEADER =
  '# latchkey CLI credentials, one table per server. They are secrets: keep this file private.\n\n';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const table = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
    ? (v as Record<string, unknown>)
    : undefined;

/** Drops undefined members, so the TOML writer sees only values. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function sessionFrom(v: unknown): Session | undefined {
  const t = table(v);
  const access = str(t?.access_token);
  if (!t || !access) return undefined;
  return defined({
    access_token: access,
    refresh_token: str(t.refresh_token),
    expires_at: str(t.expires_at) ?? new Date(0).toISOString(),
    scope: str(t.scope) ?? '',
    user_id: str(t.user_id),
    email: str(t.email),
    org_id: str(t.org_id),
    org_slug: str(t.org_slug),
  });
}

function agentFrom(v: unknown): AgentKey | undefined {
  const t = table(v);
  const key = str(t?.api_key);
  if (!t || !key) return undefined;
  return defined({
    api_key: key,
    agent_id: str(t.agent_id) ?? '',
    org_id: str(t.org_id) ?? '',
    status: str(t.status) ?? 'unclaimed',
    human_email: str(t.human_email),
  });
}

/** The config file's contents; an empty config when there is no file yet. */
export function loadConfig(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { servers: {} };
    throw new CliError(EXIT.failed, 'config_unreadable', `Cannot read ${path}: ${(err as Error).message}`);
  }
  let raw: Record<string, unknown>;
  try {
    raw = parse(text) as Record<string, unknown>;
  } catch (err) {
    const first = String((err as Error).message).split('\n')[0];
    throw new CliError(EXIT.failed, 'config_invalid', `${path} is not valid TOML: ${first}`, {
      hint: 'Fix or delete the file, then sign in again.',
    });
  }
  const servers: Record<string, ServerEntry> = {};
  for (const [url, v] of Object.entries(table(raw.servers) ?? {})) {
    const t = table(v);
    if (!t) continue;
    servers[url] = defined({
      client_id: str(t.client_id),
      session: sessionFrom(t.session),
      agent: agentFrom(t.agent),
    });
  }
  return defined({ default_server: str(raw.default_server), servers });
}

/**
 * Writes the config atomically: a private temp file in the same folder, flushed, then renamed
 * over the old one. The folder is 0700 and the file 0600 whatever the umask.
 */
export function saveConfig(path: string, config: ConfigFile): void {
  const dir = ensureDir(path);
  const servers = Object.fromEntries(
    Object.entries(config.servers)
      .map(([url, e]) => [url, defined(e)] as const)
      .filter(([, e]) => Object.keys(e).length > 0),
  );
  const text = HEADER + stringify(defined({ default_server: config.default_server, servers }));
  const tmp = join(dir, `.config.toml.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx', 0o600);
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw new CliError(EXIT.failed, 'config_unwritable', `Cannot write ${path}: ${(err as Error).message}`);
  }
}

function ensureDir(path: string): string {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  } catch (err) {
    throw new CliError(EXIT.failed, 'config_unwritable', `Cannot create ${dir}: ${(err as Error).message}`);
  }
  return dir;
}

/**
 * Runs `fn` holding the config file's lock, so two latchkey processes never interleave a
 * read-modify-write (a lost write could mean a spent refresh token, and the session with it).
 */
export async function withConfigLock<T>(path: string, fn: () => Promise<T> | T): Promise<T> {
  ensureDir(path);
  const lock = `${path}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new CliError(
          EXIT.failed,
          'config_unwritable',
          `Cannot lock ${path}: ${(err as Error).message}`,
        );
    }
    if (lockIsStale(lock)) continue;
    if (Date.now() > deadline)
      throw new CliError(EXIT.failed, 'config_locked', `${lock} is held by another latchkey process.`, {
        hint: 'If no other latchkey is running, delete the lock file.',
      });
    await new Promise((r) => setTimeout(r, 25));
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // taken over as stale: nothing to release
    }
  }
}

function lockIsStale(lock: string): boolean {
  try {
    if (Date.now() - statSync(lock).mtimeMs < LOCK_STALE_MS) return false;
    unlinkSync(lock);
    return true;
  } catch {
    return true; // released meanwhile: try again
  }
}

/** Load, change, save, under the lock. Returns what `fn` returns. */
export async function updateConfig<T>(path: string, fn: (config: ConfigFile) => T): Promise<T> {
  return withConfigLock(path, () => {
    const config = loadConfig(path);
    const out = fn(config);
    saveConfig(path, config);
    return out;
  });
}

/** The entry for a server, created empty when missing (so callers can assign into it). */
export function entryOf(config: ConfigFile, server: string): ServerEntry {
  return (config.servers[server] ??= {});
}
