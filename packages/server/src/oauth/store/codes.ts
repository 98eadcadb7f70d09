import { addMs, type Clock } from '../../lib/clock.js';
import { newSecret, sha256Hex } from '../../lib/secrets.js';
import type { OidcContext } from '../oidc/id-token.js';
import type { AuthorizationRequest } from '../authorization-request.js';
import type { Executor } from '../../db/executor.js';

/** How long an authorization code lives: one use, within a minute. */
export const CODE_TTL_MS = 60_000;

/** Issues a single-use authorization code (60 s) for a consented request. Returns the plaintext. */
export async function issueCode(
  db: Executor,
  clock: Clock,
  c: {
    request: AuthorizationRequest;
    grantId: string;
    userId: string;
    orgId: string;
    scopes: readonly string[];
    /** The ID token context of an OpenID request (nonce, auth_time, amr, sid). */
    oidc?: OidcContext | null;
  },
): Promise<string> {
  const code = newSecret(32);
  const now = clock.now();
  await db
    .insertInto('oauth_codes')
    .values({
      code_hash: sha256Hex(code),
      client_id: c.request.client.id,
      grant_id: c.grantId,
      user_id: c.userId,
      org_id: c.orgId,
      redirect_uri: c.request.redirectUri,
      resource: c.request.resource.url,
      scopes: JSON.stringify(c.scopes),
      code_challenge: c.request.codeChallenge,
      oidc: c.oidc ? JSON.stringify(c.oidc) : null,
      created_at: now,
      expires_at: addMs(now, CODE_TTL_MS),
    })
    .execute();
  return code;
}
