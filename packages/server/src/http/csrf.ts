import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

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
