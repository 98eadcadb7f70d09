import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../errors.js';
import { checkReturnTo } from '../../http/request.js';
import { PENDING_SESSION_PREFIX } from '../sessions.js';
import { SESSION_COOKIE } from '../../auth/session-cookie.js';

/** The server-rendered page that finishes a pending sign-in. */
export const SECOND_FACTOR_PAGE = '/login/second-factor';

/**
 * An onRequest hook, run before authentication: a browser whose cookie is a pending sign-in (it
 * still owes its second factor, or an enrolment) is sent to the second-factor page when it opens
 * any other page, and gets 401 `second_factor_required` from API routes that need a credential —
 * instead of a bare "sign in". Decided on the cookie's prefix, so ordinary requests cost nothing;
 * the pending session itself is looked up (and may have expired) only on the second-factor page.
 * A request with an Authorization header is left to its bearer token.
 */
export function secondFactorGate(publicUrl: string) {
  return async function secondFactorGateHook(
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | void> {
    const token = req.cookies[SESSION_COOKIE];
    if (!token?.startsWith(PENDING_SESSION_PREFIX) || req.headers.authorization !== undefined) return;
    const path = req.url.split('?', 1)[0]!;
    if (path.startsWith('/api/')) {
      const mode = req.routeOptions.config?.auth;
      if (mode === 'user' || mode === 'org')
        throw new ApiError('second_factor_required', 'Finish signing in: prove your second factor.', {
          extra: { second_factor_url: '/api/auth/second-factor', page: SECOND_FACTOR_PAGE },
        });
      return;
    }
    if (req.method !== 'GET' || path === SECOND_FACTOR_PAGE || path.startsWith(`${SECOND_FACTOR_PAGE}/`))
      return;
    const accept = req.headers.accept ?? '';
    if (!accept.includes('text/html')) return;
    const back = checkReturnTo(req.url, publicUrl);
    const to =
      back && back !== '/'
        ? `${SECOND_FACTOR_PAGE}?return_to=${encodeURIComponent(back)}`
        : SECOND_FACTOR_PAGE;
    return reply.redirect(to, 303);
  };
}
