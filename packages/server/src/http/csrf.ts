import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { safeEqual } from '../lib/secrets.js';
import { ApiError } from '../errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isUnsafe(method: string): boolean {
  return !SAFE_METHODS.has(method);
}

/**
 * Refuses an unsafe request that a browser says comes from another site. Browsers send `Origin`
 * (and `Sec-Fetch-Site`) on every cross-site POST/PUT/PATCH/DELETE, so a request carrying
 * neither is not browser-driven and cannot be a forged cross-site request (curl, server code).
 * `Origin: null` (sandboxed frames, some redirects) is refused.
 */
export function checkSameOrigin(req: FastifyRequest, publicOrigin: string): void {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    if (origin !== publicOrigin) throw new ApiError('csrf', 'The request comes from another origin.');
    return;
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new ApiError('csrf', 'The request comes from another site.');
  }
}

/**
 * The synchronizer token a server-rendered form carries, bound to the browser's session: the
 * SHA-256 of the session secret under a label. Unguessable without the cookie, reveals nothing
 * about it, and changes with every sign-in.
 */
export function formToken(sessionSecret: string): string {
  return createHash('sha256').update(`latchkey-form:${sessionSecret}`).digest('base64url');
}

export function formTokenValid(sessionSecret: string | undefined, presented: unknown): boolean {
  if (!sessionSecret || typeof presented !== 'string' || presented.length > 100) return false;
  return safeEqual(formToken(sessionSecret), presented);
}
