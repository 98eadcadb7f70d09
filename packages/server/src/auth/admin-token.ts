import { safeEqual } from '../lib/secrets.js';
import { type Authenticator, bearerToken } from './principal.js';

/** Last tier: the ADMIN_TOKEN break-glass credential, compared in constant time. */
export const adminTokenAuthenticator: Authenticator = async (req, deps) => {
  const bearer = bearerToken(req);
  if (!bearer || !deps.config.adminToken || !safeEqual(bearer, deps.config.adminToken)) return null;
  return {
    kind: 'admin-token',
    user: null,
    sessionId: null,
    boundOrg: null,
    defaultOrgId: null,
    scopes: null,
    prefix: null,
    actor: 'admin-token',
    superuser: true,
    tokenId: null,
    expiresAt: null,
    fromSession: false,
    emailVerified: true,
    signedInAt: null,
  };
};
