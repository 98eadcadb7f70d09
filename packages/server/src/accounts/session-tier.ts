import { isDisabled } from './disable.js';
import { findSession } from './sessions.js';
import { SESSION_COOKIE } from '../auth/session-cookie.js';
import type { Authenticator } from '../auth/principal.js';
import { sha256Hex } from '../lib/secrets.js';

/** Tier 1: the browser session cookie. A stale cookie is no credential (the route decides). */
export const sessionAuthenticator: Authenticator = async (req, deps) => {
  const token = req.cookies[SESSION_COOKIE];
  if (!token || token.length > 100) return null;
  const hash = sha256Hex(token);
  let cred = deps.auth.credential(hash);
  if (cred === undefined) {
    const generation = deps.auth.generation();
    const found = await findSession(deps.db, deps.clock, token);
    // A session of a disabled account is no credential (disabling ended them; this refuses any later).
    const s = found && !(await isDisabled(deps.db, found.userId)) ? found : null;
    cred = s
      ? {
          id: s.sessionId,
          expiresAt: s.expiresAt.getTime(),
          boundOrg: null,
          principal: {
            kind: 'session',
            user: { id: s.userId, email: s.email, name: s.name },
            sessionId: s.sessionId,
            boundOrg: null,
            defaultOrgId: s.orgId,
            scopes: null,
            prefix: null,
            actor: `user:${s.userId}`,
            superuser: false,
            tokenId: null,
            expiresAt: null,
            fromSession: true,
            emailVerified: s.emailVerified,
            signedInAt: s.createdAt.getTime(),
          },
        }
      : null;
    deps.auth.putCredential(hash, cred, generation);
  }
  if (!cred || (cred.expiresAt !== null && cred.expiresAt <= deps.clock.now().getTime())) return null;
  return cred.principal;
};
