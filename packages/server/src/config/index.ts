import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type AgentPlans,
  parseAgentPlans,
  parseResources,
  parseScopes,
  type ResourceConfig,
  type ScopeConfig,
} from './catalogue.js';
import { ConfigError } from './errors.js';
import { DEV_SECRET_FILE, devSecret, readConfigFile } from './files.js';
import {
  optionalUrl,
  pairOrNull,
  parseBool,
  parseDnsServers,
  parseHttpUrl,
  parsePort,
  parseProviderUrl,
} from './parse.js';
import { SETTINGS, type SettingName } from './settings.js';
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
  /** PostgreSQL: queries as named prepared statements (off behind a pooler that cannot carry them). */
  readonly databasePreparedStatements: boolean;
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

export const ADMIN_TOKEN_MIN_LENGTH = 32;
export const SECRET_MIN_LENGTH = 32;

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
  const databasePreparedStatements = parseBool(
    'DATABASE_PREPARED_STATEMENTS',
    raw('DATABASE_PREPARED_STATEMENTS') ?? 'true',
  );
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
    databasePreparedStatements,
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
