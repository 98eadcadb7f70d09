import { loadConfig, type Session, saveConfig, withConfigLock } from './config.js';
import type { Context } from './context.js';
import { CliError, EXIT, notSignedIn } from './errors.js';
import { errorFrom, type HttpRequest, send } from './http.js';
import { discover, refresh, type TokenSet } from './oauth.js';

/** An access token this close to its expiry is refreshed before use. */
export const REFRESH_MARGIN_MS = 60_000;

export type Credential = { source: 'env'; token: string } | { source: 'session'; session: Session };

/** The stored sign-in for the context's server, if any. */
export function storedSession(ctx: Context): Session | undefined {
  return loadConfig(ctx.env.configPath).servers[ctx.server]?.session;
}

/** LATCHKEY_TOKEN wins over the stored sign-in; without either the command needs a login. */
export function credentialOf(ctx: Context): Credential {
  if (ctx.env.token) return { source: 'env', token: ctx.env.token };
  const session = storedSession(ctx);
  if (!session) throw notSignedIn(ctx.server);
  return { source: 'session', session };
}

const expiring = (s: Session) => Date.parse(s.expires_at) - REFRESH_MARGIN_MS <= Date.now();

/** A session from a token response; the person and org are kept from `previous`. */
export function sessionFrom(t: TokenSet, previous?: Session): Session {
  return {
    ...previous,
    access_token: t.access_token,
    // Rotation: the new refresh token replaces the old one, which the server has now spent.
    ...(t.refresh_token ? { refresh_token: t.refresh_token } : {}),
    expires_at: new Date(Date.now() + t.expires_in * 1000).toISOString(),
    scope: t.scope || previous?.scope || '',
  };
}

const sessionExpired = (server: string) =>
  new CliError(EXIT.auth, 'session_expired', `The sign-in to ${server} has expired.`, {
    hint: 'Run `latchkey login` again.',
  });

/**
 * Swaps the refresh token for new tokens and stores both, under the config lock. When another
 * latchkey process refreshed first (the stored access token is no longer `stale`), its tokens
 * are used rather than spending the refresh token twice — a reuse the server would punish by
 * revoking the whole sign-in.
 */
export async function refreshSession(ctx: Context, stale: string): Promise<Session> {
  const path = ctx.env.configPath;
  return withConfigLock(path, async () => {
    const config = loadConfig(path);
    const entry = config.servers[ctx.server];
    const s = entry?.session;
    if (!entry || !s) throw notSignedIn(ctx.server);
    if (s.access_token !== stale && !expiring(s)) return s;
    if (!s.refresh_token || !entry.client_id) throw sessionExpired(ctx.server);
    let tokens: TokenSet;
    try {
      tokens = await refresh(ctx.server, await discover(ctx.server), entry.client_id, s.refresh_token);
    } catch (err) {
      if (
        err instanceof CliError &&
        ['invalid_grant', 'invalid_client', 'unauthorized_client'].includes(err.code)
      ) {
        delete entry.session;
        saveConfig(path, config);
        throw sessionExpired(ctx.server);
      }
      throw err;
    }
    entry.session = sessionFrom(tokens, s);
    saveConfig(path, config);
    return entry.session;
  });
}

/**
 * Calls Latchkey's API (`/api/v1/…`) as the signed-in person or LATCHKEY_TOKEN. An expired
 * access token is refreshed first; a 401 on a stored session gets one refresh and one retry.
 * The org is `r.org`, else the org of the stored sign-in.
 */
export async function api<T>(ctx: Context, r: HttpRequest): Promise<T> {
  const cred = credentialOf(ctx);
  if (cred.source === 'env') {
    const res = await send(ctx.server, { ...r, bearer: cred.token });
    if (res.status >= 200 && res.status < 300) return res.body as T;
    throw errorFrom(ctx.server, res);
  }
  let s = cred.session;
  const org = r.org ?? s.org_id;
  if (expiring(s)) s = await refreshSession(ctx, s.access_token);
  let res = await send(ctx.server, { ...r, ...(org ? { org } : {}), bearer: s.access_token });
  if (res.status === 401 && s.refresh_token) {
    s = await refreshSession(ctx, s.access_token);
    res = await send(ctx.server, { ...r, ...(org ? { org } : {}), bearer: s.access_token });
  }
  if (res.status >= 200 && res.status < 300) return res.body as T;
  throw errorFrom(ctx.server, res);
}
