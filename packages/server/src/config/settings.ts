/** The settings table: each setting's environment variable and its key in the TOML file. */

/** Settings: env name → TOML key. */
export const SETTINGS = {
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
export type SettingName = keyof typeof SETTINGS;

/** Top-level TOML tables that other parts of the config own (validated where they are used). */
export const TOML_SECTIONS = new Set<string>(['resources', 'scopes', 'agent_plans']);
