import type { FastifyReply, FastifyRequest } from 'fastify';
import { SESSION_COOKIE, SESSION_TTL_MS } from '../auth/session-cookie.js';
import type { Actor } from '../auth/principal.js';
import type { Config } from '../config/index.js';
import type { OrgContext, Principal } from '../auth/principal.js';
import { ApiError } from '../errors.js';

/** Who is acting, for the audit log. */
export function actorOf(req: FastifyRequest): Actor {
  const ua = req.headers['user-agent'];
  return {
    actor: req.principal?.actor ?? 'anonymous',
    userId: req.principal?.user?.id ?? null,
    ip: req.ip ?? null,
    userAgent: typeof ua === 'string' ? ua : null,
  };
}

export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new ApiError('unauthorized');
  return req.principal;
}

export function orgOf(req: FastifyRequest): OrgContext {
  if (!req.org) throw new ApiError('org_required', 'Name the organisation with the x-org-id header.');
  return req.org;
}

/** The signed-in person behind the request; credentials that are not a person get 403. */
export function userOf(req: FastifyRequest): { id: string; email: string; name: string } {
  const p = principalOf(req);
  if (!p.user) throw new ApiError('forbidden', 'This needs a credential that acts as a person.');
  return p.user;
}

/** Browsers drop HSTS on plain http; on https they keep to https for this long (two years). */
export const HSTS_MAX_AGE_SECONDS = 2 * 365 * 24 * 60 * 60;

/** The cookies Latchkey sets that `__Host-` guards on https (their plain names on http). */
export const HOST_COOKIES = [SESSION_COOKIE, 'lk_ml', 'lk_device'] as const;
export type HostCookie = (typeof HOST_COOKIES)[number];

/**
 * The name a cookie has on the wire: `__Host-<base>` when PUBLIC_URL is https, so no sibling
 * subdomain or plain-http page can set or shadow it (it must be Secure, Path=/, no Domain).
 */
export function cookieName(config: Pick<Config, 'secureCookies'>, base: HostCookie): string {
  return config.secureCookies ? `__Host-${base}` : base;
}

/**
 * An onRequest hook, run right after cookies are parsed: on https, sends
 * `Strict-Transport-Security`, and lets only the `__Host-` cookies count — a plain `lk_session`
 * (which a sibling subdomain could have planted) is dropped, and the `__Host-` value is read
 * under its base name, so the rest of the server reads `req.cookies[SESSION_COOKIE]` either way.
 */
export function secureTransport(config: Pick<Config, 'secureCookies'>) {
  return function secureTransportHook(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
    if (!config.secureCookies) return done();
    reply.header('strict-transport-security', `max-age=${HSTS_MAX_AGE_SECONDS}; includeSubDomains`);
    const cookies = req.cookies as Record<string, string | undefined>;
    for (const base of HOST_COOKIES) {
      const value = cookies[`__Host-${base}`];
      delete cookies[base];
      if (value !== undefined) cookies[base] = value;
    }
    done();
  };
}

/** Sets one of Latchkey's own cookies: HttpOnly, SameSite=Lax, Path=/, Secure (and `__Host-`) on https. */
export function setHostCookie(
  reply: FastifyReply,
  config: Pick<Config, 'secureCookies'>,
  c: { name: HostCookie; value: string; maxAgeSeconds: number },
): void {
  reply.setCookie(cookieName(config, c.name), c.value, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: config.secureCookies,
    maxAge: c.maxAgeSeconds,
  });
}

export function setSessionCookie(reply: FastifyReply, config: Config, token: string): void {
  reply.setCookie(cookieName(config, SESSION_COOKIE), token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: config.secureCookies,
    maxAge: Math.floor(SESSION_TTL_MS / 1000),
  });
}

export function clearSessionCookie(reply: FastifyReply, config: Config): void {
  reply.clearCookie(cookieName(config, SESSION_COOKIE), {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: config.secureCookies,
  });
}

/** Longest return_to considered; longer is refused. */
export const RETURN_TO_MAX_LENGTH = 4000;

/**
 * The one check of where a browser may be sent after sign-in: `raw` resolved against
 * `publicUrl` must stay on its origin, as a path (`/…`). Refused outright: anything not starting
 * with one `/`, backslashes and control characters anywhere, encoded dots, slashes and
 * backslashes (`%2e`, `%2f`, `%5c`), and a path that normalises to `//…` (`/./\/x`, `/x/..//y`).
 * The normalised result is checked again, so what is returned is what a browser will follow.
 * Returns null when refused.
 */
export function checkReturnTo(raw: string | undefined | null, publicUrl: string): string | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > RETURN_TO_MAX_LENGTH) return null;
  if (!raw.startsWith('/') || raw.startsWith('//')) return null;
  if (/[\u0000-\u001f\u007f-\u009f\\]/.test(raw)) return null;
  if (/%(2e|2f|5c)/i.test(raw.split(/[?#]/, 1)[0]!)) return null;
  const base = new URL(publicUrl);
  const resolve = (s: string) => {
    try {
      const u = new URL(s, base);
      return u.origin === base.origin ? u.pathname + u.search + u.hash : null;
    } catch {
      return null;
    }
  };
  const out = resolve(raw);
  if (out === null || !out.startsWith('/') || out.startsWith('//') || out.startsWith('/\\')) return null;
  // What the browser follows must resolve to itself: no second normalisation changes it.
  return resolve(out) === out ? out : null;
}

/** A same-origin path to send the browser to after sign-in: `raw` when safe, else `/`. */
export function safeReturnTo(raw: string | undefined | null, publicUrl: string): string {
  return checkReturnTo(raw, publicUrl) ?? '/';
}
