import type { ApiScope } from '@latchkey/contract';
import { CliError, EXIT } from './errors.js';
import { call, errorFrom, send } from './http.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** What the CLI asks for: reading the org (whoami) and managing tokens. */
/**
 * What `latchkey login` asks for: reading who you are and your org, and managing the org's keys.
 * An OAuth sign-in never changes the account itself (password, sessions, personal tokens).
 */
export const CLI_SCOPES = [
  'account:read',
  'org:read',
  'tokens:manage',
] as const satisfies readonly ApiScope[];
/** RFC 8628 §3.5: the default interval, and what each `slow_down` adds to it. */
export const DEVICE_INTERVAL_S = 5;
export const SLOW_DOWN_S = 5;
/**
 * One redirect URI for every port: the server matches a loopback redirect on any port
 * (RFC 8252 §7.3), so one registration serves every `login --browser`.
 */
export const LOOPBACK_REDIRECT = 'http://127.0.0.1/callback';

/** The parts of the authorization server metadata (RFC 8414) the CLI uses. */
export interface ServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  registration_endpoint?: string;
  revocation_endpoint?: string;
  device_authorization_endpoint?: string;
  code_challenge_methods_supported?: string[];
}

/** Latchkey's own API as a protected resource (RFC 9728). */
export interface ApiResource {
  resource: string;
  scopes_supported: string[];
}

export interface TokenSet {
  access_token: string;
  refresh_token?: string;
  /** Seconds. */
  expires_in: number;
  scope: string;
}

export interface DeviceStart {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete?: string;
  expires_in: number;
  interval?: number;
}

const notLatchkey = (server: string, what: string) =>
  new CliError(EXIT.unavailable, 'bad_metadata', `${server} did not serve valid ${what}.`, {
    hint: 'Is this the URL of a Latchkey server?',
  });

/** A well-known document that is not there: whatever answers, it is not a Latchkey server. */
const missingIsNotLatchkey = (server: string, what: string) => (err: unknown) => {
  throw err instanceof CliError && err.extra.status === 404 ? notLatchkey(server, what) : err;
};

/** Fetches and checks the authorization server metadata. The issuer must be the URL we asked. */
export async function discover(server: string): Promise<ServerMetadata> {
  const m = await call<Partial<ServerMetadata> | null>(server, {
    path: '/.well-known/oauth-authorization-server',
  }).catch(missingIsNotLatchkey(server, 'OAuth metadata'));
  if (!m || typeof m.issuer !== 'string' || typeof m.token_endpoint !== 'string')
    throw notLatchkey(server, 'OAuth metadata');
  // RFC 8414 §3.3: the issuer must be identical to the URL the metadata was fetched from.
  if (m.issuer.replace(/\/+$/, '') !== server)
    throw new CliError(
      EXIT.usage,
      'issuer_mismatch',
      `The server at ${server} names itself ${m.issuer}; use that URL instead.`,
      { hint: `latchkey --server ${m.issuer} …` },
    );
  return m as ServerMetadata;
}

export async function apiResource(server: string): Promise<ApiResource> {
  const r = await call<Partial<ApiResource> | null>(server, {
    path: '/.well-known/oauth-protected-resource/api',
  }).catch(missingIsNotLatchkey(server, 'protected resource metadata'));
  if (!r || typeof r.resource !== 'string') throw notLatchkey(server, 'protected resource metadata');
  return {
    resource: r.resource,
    scopes_supported: Array.isArray(r.scopes_supported) ? r.scopes_supported : [],
  };
}

/** The scopes to request: `wanted`, or the CLI's own, limited to what the API offers. */
export function scopesFor(api: ApiResource, wanted: string[] | undefined): string[] {
  if (wanted?.length) return wanted;
  if (api.scopes_supported.length === 0) return [...CLI_SCOPES];
  return CLI_SCOPES.filter((s) => api.scopes_supported.includes(s));
}

/** Registers the CLI as a public client (RFC 7591) able to use both sign-in flows. */
export async function registerClient(server: string, meta: ServerMetadata): Promise<string> {
  if (!meta.registration_endpoint)
    throw new CliError(
      EXIT.failed,
      'registration_unsupported',
      `${server} does not allow client registration.`,
    );
  const res = await call<{ client_id?: unknown }>(server, {
    path: meta.registration_endpoint,
    json: {
      client_name: 'Latchkey CLI',
      token_endpoint_auth_method: 'none',
      grant_types: [DEVICE_GRANT, 'authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [LOOPBACK_REDIRECT],
    },
  });
  if (typeof res.client_id !== 'string') throw notLatchkey(server, 'a client registration');
  return res.client_id;
}

function tokenSet(server: string, body: unknown): TokenSet {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b.access_token !== 'string' || String(b.token_type).toLowerCase() !== 'bearer')
    throw notLatchkey(server, 'a token response');
  return {
    access_token: b.access_token,
    ...(typeof b.refresh_token === 'string' ? { refresh_token: b.refresh_token } : {}),
    expires_in: typeof b.expires_in === 'number' && b.expires_in > 0 ? b.expires_in : 3600,
    scope: typeof b.scope === 'string' ? b.scope : '',
  };
}

/** Any token endpoint request; OAuth errors come back mapped by `errorFrom`. */
export async function tokenRequest(
  server: string,
  meta: ServerMetadata,
  form: Record<string, string>,
): Promise<TokenSet> {
  return tokenSet(server, await call(server, { path: meta.token_endpoint, form }));
}

/** Starts the device flow (RFC 8628 §3.1). */
export async function startDevice(
  server: string,
  meta: ServerMetadata,
  o: { clientId: string; resource: string; scopes: string[] },
): Promise<DeviceStart> {
  if (!meta.device_authorization_endpoint)
    throw new CliError(EXIT.failed, 'device_unsupported', `${server} does not offer the device flow.`, {
      hint: 'Try `latchkey login --browser`.',
    });
  const d = await call<Partial<DeviceStart>>(server, {
    path: meta.device_authorization_endpoint,
    form: { client_id: o.clientId, resource: o.resource, scope: o.scopes.join(' ') },
  });
  if (typeof d.device_code !== 'string' || typeof d.user_code !== 'string' || !d.verification_uri)
    throw notLatchkey(server, 'a device authorization');
  return d as DeviceStart;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls the token endpoint until the person decides (RFC 8628 §3.4–3.5): waits `interval`
 * seconds between polls, five more after each `slow_down`, and stops when the code expires.
 */
export async function pollDevice(
  server: string,
  meta: ServerMetadata,
  o: { clientId: string; start: DeviceStart; sleep?: (ms: number) => Promise<void> },
): Promise<TokenSet> {
  let interval = (o.start.interval && o.start.interval > 0 ? o.start.interval : DEVICE_INTERVAL_S) * 1000;
  const deadline = Date.now() + o.start.expires_in * 1000;
  const expired = () =>
    new CliError(EXIT.auth, 'expired_token', 'The code expired before it was approved.', {
      hint: 'Run `latchkey login` again.',
    });
  for (;;) {
    await (o.sleep ?? delay)(interval);
    if (Date.now() > deadline) throw expired();
    const res = await send(server, {
      path: meta.token_endpoint,
      form: { grant_type: DEVICE_GRANT, device_code: o.start.device_code, client_id: o.clientId },
    });
    if (res.status === 200) return tokenSet(server, res.body);
    const err = errorFrom(server, res);
    switch (err.code) {
      case 'authorization_pending':
        continue;
      case 'slow_down':
        interval += SLOW_DOWN_S * 1000;
        continue;
      case 'access_denied':
        throw new CliError(EXIT.auth, 'access_denied', 'The sign-in was denied.');
      case 'expired_token':
        throw expired();
      default:
        throw err;
    }
  }
}

/** Rotates a refresh token: the answer carries a new refresh token that replaces the old one. */
export function refresh(server: string, meta: ServerMetadata, clientId: string, refreshToken: string) {
  return tokenRequest(server, meta, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: clientId,
  });
}

/** Revokes a token (RFC 7009). A refresh token takes its whole family, access tokens included. */
export async function revoke(
  server: string,
  meta: ServerMetadata,
  o: { clientId: string; token: string; hint: 'refresh_token' | 'access_token' },
) {
  const endpoint = meta.revocation_endpoint;
  if (!endpoint)
    throw new CliError(EXIT.failed, 'revocation_unsupported', `${server} does not offer token revocation.`);
  await call(server, {
    path: endpoint,
    form: { token: o.token, token_type_hint: o.hint, client_id: o.clientId },
  });
}
