import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import {
  type AgentPlans,
  parseAgentPlans,
  parseResources,
  parseScopes,
  type ResourceConfig,
  type ScopeConfig,
} from './catalogue.js';
import { ConfigError } from './errors.js';
import { parseAuditLogFile, parseWebhookConfig, type WebhookConfig } from './webhooks.js';

export { ConfigError };
export type { AgentPlans, ResourceConfig, ScopeConfig, WebhookConfig };

/**
 * Configuration: parsed once at start from the environment and an optional TOML file, validated,
 * frozen and passed down. This is the only module that reads process.env.
 * Environment variables win over the file. A bad value throws ConfigError naming the setting.
 */
export interface Config {
  readonly port: number;
  readonly host: string;
  /** Issuer / base URL, no trailing slash. */
  readonly publicUrl: string;
  readonly publicOrigin: string;
  readonly secureCookies: boolean;
  readonly dataDir: string;
  /** null → embedded PGlite in dataDir. */
  readonly databaseUrl: string | null;
  /** null → in-process cache. */
  readonly redisUrl: string | null;
  /** null → dev outbox (.eml files under dataDir/outbox). */
  readonly smtpUrl: string | null;
  readonly mailFrom: string;
  readonly adminToken: string | null;
  readonly logLevel: LogLevel;
  /** `text`: one readable line per entry (development); `json`: pino's JSON lines (production). */
  readonly logFormat: LogFormat;
  readonly trustProxy: boolean;
  /** The first part of every Latchkey token (`lk` → `lk_pat_…`). */
  readonly tokenPrefix: string;
  /** Bearer key a secret scanner uses to report leaked tokens; null disables reporting. */
  readonly tokenScannerKey: string | null;
  /** Entries in each node's credential cache; 0 disables the cache. */
  readonly authCacheEntries: number;
  /** Requests per minute one IP may make to /api (the general limiter); 0 disables it. */
  readonly apiRateLimit: number;
  /** Dynamic client registrations one IP may make per hour (`DCR_RATE_LIMIT`). */
  readonly dcrRateLimit: number;
  /** A request (headers and body) must arrive within this many ms, else 408 (`REQUEST_TIMEOUT_MS`). */
  readonly requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this many ms (`KEEP_ALIVE_TIMEOUT_MS`). */
  readonly keepAliveTimeoutMs: number;
  /** Open connections one client address may hold; 0: no cap (`MAX_CONNECTIONS_PER_IP`). */
  readonly maxConnectionsPerIp: number;
  /** Protected resources from `[[resources]]` (Latchkey's own API is added by the OAuth catalogue). */
  readonly resources: readonly ResourceConfig[];
  /** Per-scope overrides from `[scopes."…"]`. */
  readonly scopes: ReadonlyMap<string, ScopeConfig>;
  /** What self-registered agents may do before and after a human claims them (`[agent_plans.*]`). */
  readonly agentPlans: AgentPlans;
  /** Testing only: Client ID Metadata Documents may be fetched from loopback addresses over http. */
  readonly cimdAllowLoopback: boolean;
  /** Testing only: SSO identity providers may be plain http on loopback addresses. */
  readonly ssoAllowLoopback: boolean;
  /** GitHub sign-in; null unless both the client id and secret are set. */
  readonly github: GithubConfig | null;
  /** Google sign-in (OpenID Connect, by discovery); null unless both the client id and secret are set. */
  readonly google: GoogleConfig | null;
  /** The sign-up policy a new instance starts with; instance admins change it at runtime. */
  readonly signupPolicy: SignupPolicy;
  /** The built dashboard: static files served at `/app/`. */
  readonly dashboardDir: string;
  /**
   * DNS servers for the lookups Latchkey makes itself (domain verification, outbound fetches), as
   * `node:dns` `setServers` takes them (`1.2.3.4`, `1.2.3.4:53`, `[::1]:53`); null → the system's.
   */
  readonly dnsServers: readonly string[] | null;
  /**
   * The secrets that encrypt what Latchkey stores and must read back (signing keys, SSO client
   * secrets): `LATCHKEY_SECRET` first. Never logged.
   */
  readonly secrets: readonly string[];
  /** How often the signing key rotates by itself, in days (`KEY_ROTATION_DAYS`). */
  readonly keyRotationDays: number;
  /** The algorithm of new signing keys (`SIGNING_ALG`): ES256 (default) or RS256. */
  readonly signingAlg: 'ES256' | 'RS256';
  /** Webhook delivery and retry settings (`WEBHOOK_*`). */
  readonly webhooks: WebhookConfig;
  /** Every audit event is appended here as one JSON line (`AUDIT_LOG_FILE`); null: no file. */
  readonly auditLogFile: string | null;
  /** Path of the TOML file that was read, if any. */
  readonly configFile: string | null;
  /** Development defaults in effect; announced in the start-up log. */
  readonly devDefaults: readonly string[];
}

export interface GithubConfig {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly authorizeUrl: string;
  readonly tokenUrl: string;
  /** Base of the REST API (`/user`, `/user/emails`), no trailing slash. */
  readonly apiUrl: string;
}

export interface GoogleConfig {
  readonly clientId: string;
  readonly clientSecret: string;
  /** The OpenID issuer; its endpoints and keys come from discovery. */
  readonly issuer: string;
}

/** Who may create an account: anyone, only people holding an invitation, or people an operator approves. */
export type SignupPolicy = 'open' | 'invite-only' | 'waitlist';
export const SIGNUP_POLICIES: readonly SignupPolicy[] = ['open', 'invite-only', 'waitlist'];

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
export type LogFormat = 'text' | 'json';

/** Settings: env name → TOML key. */
const SETTINGS = {
  PORT: 'port',
  HOST: 'host',
  PUBLIC_URL: 'public_url',
  LATCHKEY_DATA_DIR: 'data_dir',
  DATABASE_URL: 'database_url',
  REDIS_URL: 'redis_url',
  SMTP_URL: 'smtp_url',
  MAIL_FROM: 'mail_from',
  ADMIN_TOKEN: 'admin_token',
  LOG_LEVEL: 'log_level',
  LOG_FORMAT: 'log_format',
  TRUST_PROXY: 'trust_proxy',
  TOKEN_PREFIX: 'token_prefix',
  TOKEN_SCANNER_KEY: 'token_scanner_key',
  AUTH_CACHE_ENTRIES: 'auth_cache_entries',
  API_RATE_LIMIT: 'api_rate_limit',
  DCR_RATE_LIMIT: 'dcr_rate_limit',
  REQUEST_TIMEOUT_MS: 'request_timeout_ms',
  KEEP_ALIVE_TIMEOUT_MS: 'keep_alive_timeout_ms',
  MAX_CONNECTIONS_PER_IP: 'max_connections_per_ip',
  CIMD_ALLOW_LOOPBACK: 'cimd_allow_loopback',
  SSO_ALLOW_LOOPBACK: 'sso_allow_loopback',
  DASHBOARD_DIR: 'dashboard_dir',
  GITHUB_CLIENT_ID: 'github_client_id',
  GITHUB_CLIENT_SECRET: 'github_client_secret',
  GITHUB_AUTHORIZE_URL: 'github_authorize_url',
  GITHUB_TOKEN_URL: 'github_token_url',
  GITHUB_API_URL: 'github_api_url',
  GOOGLE_CLIENT_ID: 'google_client_id',
  GOOGLE_CLIENT_SECRET: 'google_client_secret',
  GOOGLE_ISSUER: 'google_issuer',
  SIGNUP_POLICY: 'signup_policy',
  DNS_SERVERS: 'dns_servers',
  LATCHKEY_SECRET: 'secret',
  KEY_ROTATION_DAYS: 'key_rotation_days',
  SIGNING_ALG: 'signing_alg',
  WEBHOOK_ALLOW_LOOPBACK: 'webhook_allow_loopback',
  WEBHOOK_RETRY_BASE_MS: 'webhook_retry_base_ms',
  WEBHOOK_RETRY_WINDOW_SECONDS: 'webhook_retry_window_seconds',
  AUDIT_LOG_FILE: 'audit_log_file',
} as const;
type SettingName = keyof typeof SETTINGS;

/** Top-level TOML tables that other parts of the config own (validated where they are used). */
const TOML_SECTIONS = new Set<string>(['resources', 'scopes', 'agent_plans']);

export const ADMIN_TOKEN_MIN_LENGTH = 32;
export const SECRET_MIN_LENGTH = 32;
/** The development default for LATCHKEY_SECRET, generated once into the data folder. */
export const DEV_SECRET_FILE = 'secret.key';

/** Where the build puts the dashboard (packages/dashboard/dist), found from this module in src/ or dist/. */
const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/dist', import.meta.url));

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const { file, path: configFile } = readConfigFile(env, cwd);

  const raw = (name: SettingName): string | undefined => {
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const v = file[SETTINGS[name]];
    if (v === undefined) return undefined;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new ConfigError(SETTINGS[name], 'must be a string, number or boolean');
  };
  const devDefaults: string[] = [];

  const port = parsePort(raw('PORT') ?? '8484');
  const host = raw('HOST') ?? '127.0.0.1';

  const publicUrlRaw = raw('PUBLIC_URL');
  if (publicUrlRaw === undefined) devDefaults.push(`PUBLIC_URL=http://localhost:${port}`);
  const publicUrl = parseHttpUrl('PUBLIC_URL', publicUrlRaw ?? `http://localhost:${port}`);

  const dataDir = resolve(cwd, raw('LATCHKEY_DATA_DIR') ?? '.latchkey');

  const databaseUrl = optionalUrl('DATABASE_URL', raw('DATABASE_URL'), ['postgres:', 'postgresql:']);
  if (!databaseUrl) devDefaults.push(`embedded database in ${dataDir}`);
  const redisUrl = optionalUrl('REDIS_URL', raw('REDIS_URL'), ['redis:', 'rediss:']);
  if (!redisUrl) devDefaults.push('in-process cache (single node only)');
  const smtpUrl = optionalUrl('SMTP_URL', raw('SMTP_URL'), ['smtp:', 'smtps:']);
  if (!smtpUrl) devDefaults.push(`mail written to ${resolve(dataDir, 'outbox')}`);

  const mailFrom = raw('MAIL_FROM') ?? `Latchkey <no-reply@${publicUrl.hostname}>`;
  if (/[\r\n]/.test(mailFrom)) throw new ConfigError('MAIL_FROM', 'must be a single line');

  const adminToken = raw('ADMIN_TOKEN') ?? null;
  if (adminToken !== null && adminToken.length < ADMIN_TOKEN_MIN_LENGTH) {
    throw new ConfigError('ADMIN_TOKEN', `must be at least ${ADMIN_TOKEN_MIN_LENGTH} characters`);
  }

  const logLevel = (raw('LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const logFormat = (raw('LOG_FORMAT') ?? (env.NODE_ENV === 'production' ? 'json' : 'text')) as LogFormat;
  if (logFormat !== 'text' && logFormat !== 'json')
    throw new ConfigError('LOG_FORMAT', 'must be text or json');
  const trustProxy = parseBool('TRUST_PROXY', raw('TRUST_PROXY') ?? 'false');
  const tokenPrefix = raw('TOKEN_PREFIX') ?? 'lk';
  if (!/^[a-z][a-z0-9]{1,9}$/.test(tokenPrefix)) {
    throw new ConfigError('TOKEN_PREFIX', 'must be 2–10 lowercase letters or digits, starting with a letter');
  }
  const tokenScannerKey = raw('TOKEN_SCANNER_KEY') ?? null;
  if (tokenScannerKey !== null && tokenScannerKey.length < ADMIN_TOKEN_MIN_LENGTH) {
    throw new ConfigError('TOKEN_SCANNER_KEY', `must be at least ${ADMIN_TOKEN_MIN_LENGTH} characters`);
  }
  const cacheRaw = raw('AUTH_CACHE_ENTRIES') ?? '10000';
  if (!/^\d{1,7}$/.test(cacheRaw))
    throw new ConfigError('AUTH_CACHE_ENTRIES', 'must be an integer 0–9999999 (0 disables)');
  const authCacheEntries = Number(cacheRaw);
  const limitRaw = raw('API_RATE_LIMIT') ?? '3000';
  if (!/^\d{1,9}$/.test(limitRaw))
    throw new ConfigError('API_RATE_LIMIT', 'must be an integer (requests per minute per IP; 0 disables)');
  const apiRateLimit = Number(limitRaw);
  const dcrRaw = raw('DCR_RATE_LIMIT') ?? '1000';
  if (!/^\d{1,6}$/.test(dcrRaw) || Number(dcrRaw) < 1 || Number(dcrRaw) > 100_000)
    throw new ConfigError('DCR_RATE_LIMIT', 'must be an integer 1–100000 (registrations per hour per IP)');
  const dcrRateLimit = Number(dcrRaw);
  const intIn = (name: SettingName, fallback: number, min: number, max: number, what: string): number => {
    const v = raw(name) ?? String(fallback);
    if (!/^\d{1,7}$/.test(v) || Number(v) < min || Number(v) > max)
      throw new ConfigError(name, `must be an integer ${min}–${max} (${what})`);
    return Number(v);
  };
  const requestTimeoutMs = intIn('REQUEST_TIMEOUT_MS', 30_000, 1_000, 600_000, 'milliseconds');
  const keepAliveTimeoutMs = intIn('KEEP_ALIVE_TIMEOUT_MS', 5_000, 100, 600_000, 'milliseconds');
  const maxConnectionsPerIp = intIn('MAX_CONNECTIONS_PER_IP', 100, 0, 1_000_000, 'connections; 0: no cap');

  const cimdAllowLoopback = parseBool('CIMD_ALLOW_LOOPBACK', raw('CIMD_ALLOW_LOOPBACK') ?? 'false');
  if (cimdAllowLoopback)
    devDefaults.push('CIMD_ALLOW_LOOPBACK=true (testing only: client metadata from loopback)');
  const ssoAllowLoopback = parseBool('SSO_ALLOW_LOOPBACK', raw('SSO_ALLOW_LOOPBACK') ?? 'false');
  if (ssoAllowLoopback) devDefaults.push('SSO_ALLOW_LOOPBACK=true (testing only: SSO providers on loopback)');
  const dashboardDir = resolve(cwd, raw('DASHBOARD_DIR') ?? DEFAULT_DASHBOARD_DIR);
  const resources = parseResources(file.resources);
  for (const [i, r] of resources.entries()) {
    if (r.id === 'latchkey' || r.url === `${publicUrl.href.replace(/\/+$/, '')}/api`) {
      throw new ConfigError(
        `resources[${i}]`,
        'the id "latchkey" and the URL PUBLIC_URL/api are Latchkey\'s own API',
      );
    }
  }
  const scopes = parseScopes(file.scopes);
  const agentPlans = parseAgentPlans(file.agent_plans);

  const github = pairOrNull(raw, 'GITHUB_CLIENT_ID', 'GITHUB_CLIENT_SECRET');
  const google = pairOrNull(raw, 'GOOGLE_CLIENT_ID', 'GOOGLE_CLIENT_SECRET');
  const providerUrl = (name: SettingName, fallback: string) => {
    const v = raw(name) ?? fallback;
    if (parseProviderUrl(name, v)) devDefaults.push(`${name}=${v} (plain http to a loopback provider)`);
    return v;
  };
  const githubUrls = {
    authorizeUrl: providerUrl('GITHUB_AUTHORIZE_URL', 'https://github.com/login/oauth/authorize'),
    tokenUrl: providerUrl('GITHUB_TOKEN_URL', 'https://github.com/login/oauth/access_token'),
    apiUrl: providerUrl('GITHUB_API_URL', 'https://api.github.com').replace(/\/+$/, ''),
  };
  const googleIssuer = providerUrl('GOOGLE_ISSUER', 'https://accounts.google.com');
  const signupPolicy = (raw('SIGNUP_POLICY') ?? 'open') as SignupPolicy;
  if (!SIGNUP_POLICIES.includes(signupPolicy)) {
    throw new ConfigError('SIGNUP_POLICY', `must be one of ${SIGNUP_POLICIES.join(', ')}`);
  }

  const dnsRaw = raw('DNS_SERVERS');
  const dnsServers = dnsRaw === undefined ? null : Object.freeze(parseDnsServers(dnsRaw));

  const production = env.NODE_ENV === 'production';
  let secret = raw('LATCHKEY_SECRET');
  if (secret === undefined) {
    if (production)
      throw new ConfigError(
        'LATCHKEY_SECRET',
        'is required when NODE_ENV=production (32 characters or more)',
      );
    const path = join(dataDir, DEV_SECRET_FILE);
    secret = devSecret(path);
    devDefaults.push(`LATCHKEY_SECRET generated in ${path} (set it in production)`);
  }
  if (secret.length < SECRET_MIN_LENGTH || /\s/.test(secret))
    throw new ConfigError('LATCHKEY_SECRET', `must be at least ${SECRET_MIN_LENGTH} characters, no spaces`);
  const rotationRaw = raw('KEY_ROTATION_DAYS') ?? '90';
  if (!/^\d{1,4}$/.test(rotationRaw) || Number(rotationRaw) < 2)
    throw new ConfigError('KEY_ROTATION_DAYS', 'must be an integer of days, 2 or more');
  const signingAlg = (raw('SIGNING_ALG') ?? 'ES256') as 'ES256' | 'RS256';
  if (signingAlg !== 'ES256' && signingAlg !== 'RS256')
    throw new ConfigError('SIGNING_ALG', 'must be ES256 or RS256');

  const webhooks = parseWebhookConfig(raw, devDefaults);
  const auditLogFile = parseAuditLogFile(raw, cwd);

  const href = publicUrl.href.replace(/\/+$/, '');
  return Object.freeze({
    port,
    host,
    publicUrl: href,
    publicOrigin: publicUrl.origin,
    secureCookies: publicUrl.protocol === 'https:',
    dataDir,
    databaseUrl,
    redisUrl,
    smtpUrl,
    mailFrom,
    adminToken,
    logLevel,
    logFormat,
    trustProxy,
    tokenPrefix,
    tokenScannerKey,
    authCacheEntries,
    apiRateLimit,
    dcrRateLimit,
    requestTimeoutMs,
    keepAliveTimeoutMs,
    maxConnectionsPerIp,
    resources: Object.freeze(resources),
    scopes,
    agentPlans,
    cimdAllowLoopback,
    ssoAllowLoopback,
    github: github ? Object.freeze({ ...github, ...githubUrls }) : null,
    google: google ? Object.freeze({ ...google, issuer: googleIssuer }) : null,
    signupPolicy,
    dashboardDir,
    dnsServers,
    secrets: Object.freeze([secret]),
    keyRotationDays: Number(rotationRaw),
    signingAlg,
    webhooks,
    auditLogFile,
    configFile,
    devDefaults: Object.freeze(devDefaults),
  });
}

/**
 * The development secret in `path`: read, or created once (random, mode 0600). Written to a
 * temporary file and linked into place, so two processes starting on one folder agree on it.
 */
function devSecret(path: string): string {
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

function readConfigFile(
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

/** 1–65535. Not 0: an OS-chosen port cannot be known in advance, and PUBLIC_URL must name it. */
function parsePort(v: string): number {
  const n = /^\d{1,5}$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= 1 && n <= 65535))
    throw new ConfigError('PORT', `must be an integer 1–65535 (got "${v.slice(0, 40)}")`);
  return n;
}

function parseBool(name: string, v: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(name, `must be true or false (got "${v}")`);
}

function parseHttpUrl(name: string, v: string): URL {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(name, 'must be an absolute http(s) URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(name, 'must be an absolute http(s) URL');
  }
  if (u.search || u.hash || u.username || u.password) {
    throw new ConfigError(name, 'must not contain a query, fragment or credentials');
  }
  return u;
}

/** A client id and secret that come together: both set, or neither (then null). Never echoes the secret. */
function pairOrNull(
  raw: (name: SettingName) => string | undefined,
  idName: SettingName,
  secretName: SettingName,
): { clientId: string; clientSecret: string } | null {
  const clientId = raw(idName);
  const clientSecret = raw(secretName);
  if (clientId === undefined && clientSecret === undefined) return null;
  if (clientId === undefined) throw new ConfigError(idName, `must be set when ${secretName} is`);
  if (clientSecret === undefined) throw new ConfigError(secretName, `must be set when ${idName} is`);
  if (!/^[\x21-\x7e]{1,200}$/.test(clientId))
    throw new ConfigError(idName, 'must be 1–200 visible ASCII characters');
  if (!/^[\x21-\x7e]{1,500}$/.test(clientSecret))
    throw new ConfigError(secretName, 'must be 1–500 visible ASCII characters');
  return { clientId, clientSecret };
}

/**
 * A sign-in provider's endpoint: https, or plain http to a loopback host (a local stand-in).
 * Returns true for the plain-http case, which the start-up log announces.
 */
function parseProviderUrl(name: string, v: string): boolean {
  const u = parseHttpUrl(name, v);
  if (u.protocol === 'https:') return false;
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
    throw new ConfigError(name, 'must be an https URL (plain http only to a loopback host)');
  }
  return true;
}

/**
 * `DNS_SERVERS`: comma-separated `host[:port]`, each host an IP address (a resolver cannot be found
 * by name), IPv6 with a port in brackets. Returned in the form `Resolver.setServers` takes.
 */
function parseDnsServers(v: string): string[] {
  const bad = (what: string) =>
    new ConfigError(
      'DNS_SERVERS',
      `must be comma-separated IP addresses with an optional port (1.1.1.1, 10.0.0.2:5353, [::1]:53); ${what}`,
    );
  const out: string[] = [];
  for (const part of v.split(',').map((p) => p.trim())) {
    if (part === '') throw bad('an entry is empty');
    const shown = `"${part.slice(0, 60)}"`;
    let host = part;
    let port: string | null = null;
    const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(part);
    if (bracketed) {
      host = bracketed[1]!;
      port = bracketed[2] ?? null;
      if (isIP(host) !== 6) throw bad(`${shown} is not an IPv6 address`);
    } else if (isIP(part) === 6) {
      host = part;
    } else {
      const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(part);
      if (!m || isIP(m[1]!) !== 4) throw bad(`${shown} is not an IP address`);
      host = m[1]!;
      port = m[2] ?? null;
    }
    if (port !== null && !(Number(port) >= 1 && Number(port) <= 65535))
      throw bad(`${shown} has a port outside 1–65535`);
    const p = port === null ? null : Number(port);
    out.push(isIP(host) === 6 ? (p === null ? host : `[${host}]:${p}`) : p === null ? host : `${host}:${p}`);
  }
  return out;
}

/** Validates a connection URL without ever echoing it (it may hold a password). */
function optionalUrl(name: string, v: string | undefined, protocols: string[]): string | null {
  if (v === undefined) return null;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(name, `must be a URL (${protocols.map((p) => `${p}//…`).join(' or ')})`);
  }
  if (!protocols.includes(u.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return v;
}
