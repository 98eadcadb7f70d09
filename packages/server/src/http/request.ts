import type { FastifyReply, FastifyRequest } from 'fastify';
import { SESSION_COOKIE, SESSION_TTL_MS } from '../accounts/sessions.js';
import type { Actor } from '../audit/log.js';
import type { Config } from '../config/index.js';
import type { OrgContext, Principal } from './auth.js';
import { ApiError } from './errors.js';

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

export function setSessionCookie(reply: FastifyReply, config: Config, token: string): void {
  reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: config.secureCookies,
    maxAge: Math.floor(SESSION_TTL_MS / 1000),
  });
}

export function clearSessionCookie(reply: FastifyReply, config: Config): void {
  reply.clearCookie(SESSION_COOKIE, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: config.secureCookies,
  });
}

/**
 * A same-origin path to send the browser to after sign-in, or null. Absolute URLs,
 * protocol-relative `//host`, backslash tricks and control characters are all refused.
 */
export function safeReturnTo(value: string | undefined | null): string | null {
  if (!value) return null;
  if (value.length > 4000) return null;
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return null;
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return null;
  try {
    const u = new URL(value, 'http://latchkey.invalid');
    if (u.origin !== 'http://latchkey.invalid') return null;
    return u.pathname + u.search + u.hash;
  } catch {
    return null;
  }
}
