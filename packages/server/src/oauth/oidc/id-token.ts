import { createHash } from 'node:crypto';
import type { OAuthDeps } from '../grants/types.js';
import { personClaims } from './claims.js';
import { rpRegistration } from './client-registration.js';
import { SIGNED_TOKEN_MAX_TTL_MS, type SigningAlg } from './keys.js';
import type { Executor } from '../../db/executor.js';

/** An ID token lives an hour (never longer than a signing key's grace covers). */
export const ID_TOKEN_TTL_MS = SIGNED_TOKEN_MAX_TTL_MS;

/**
 * What an OpenID authentication request fixed at the authorization endpoint, kept with its code
 * (`oauth_codes.oidc`) and found again by token family on refresh.
 */
export interface OidcContext {
  /** The client's nonce (Core §3.1.2.1), echoed in the code exchange's ID token only. */
  nonce?: string;
  /** When the person authenticated (seconds since the epoch). */
  auth_time: number;
  /** RFC 8176 authentication methods of that sign-in. */
  amr: string[];
  /** The browser session the person signed in with: `sid` (front/back-channel logout, end-session). */
  sid: string | null;
}

export function parseOidcContext(v: unknown): OidcContext | null {
  const o = (typeof v === 'string' ? JSON.parse(v) : v) as OidcContext | null | undefined;
  return o && typeof o.auth_time === 'number' ? o : null;
}

/** OIDC Core §3.1.3.6: the left half of the SHA-256 of the ASCII token, base64url (ES256 and RS256 both hash with SHA-256). */
export function tokenHashClaim(token: string): string {
  const digest = createHash('sha256').update(token, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** The context of a token family's OpenID authentication (the code that started it), or null. */
export async function familyContext(db: Executor, familyId: string): Promise<OidcContext | null> {
  const row = await db
    .selectFrom('oauth_codes')
    .select('oidc')
    .where('family_id', '=', familyId)
    .where('oidc', 'is not', null)
    .executeTakeFirst();
  return row ? parseOidcContext(row.oidc) : null;
}

/**
 * Signs an ID token (Core §2, §3.1.3.6) for `clientId` about `userId`, in the org they chose:
 * `iss`, `sub`, `aud`, `azp`, `exp`, `iat`, `auth_time`, `amr`, `sid`, `at_hash` of the access
 * token it comes with, `nonce` when the exchange answers a request that sent one, and the claims
 * its scopes release. Signed with the current key of the client's `id_token_signed_response_alg`
 * (the instance's default otherwise). Null when the person no longer exists.
 */
export async function issueIdToken(
  deps: Pick<OAuthDeps, 'db' | 'clock' | 'config' | 'keys'>,
  o: {
    clientId: string;
    userId: string;
    orgId: string;
    scopes: readonly string[];
    context: OidcContext;
    accessToken: string;
    /** false on refresh: the nonce belongs to the original authentication's response. */
    withNonce: boolean;
  },
): Promise<string | null> {
  const claims = await personClaims(deps.db, { userId: o.userId, orgId: o.orgId, scopes: o.scopes });
  if (!claims) return null;
  const reg = await rpRegistration(deps.db, o.clientId);
  const alg: SigningAlg = reg.idTokenAlg ?? deps.config.signingAlg;
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  return deps.keys.sign(
    {
      ...claims,
      iss: deps.config.publicUrl,
      aud: o.clientId,
      azp: o.clientId,
      iat: now,
      exp: now + ID_TOKEN_TTL_MS / 1000,
      auth_time: o.context.auth_time,
      ...(o.context.amr.length ? { amr: o.context.amr } : {}),
      ...(o.context.sid ? { sid: o.context.sid } : {}),
      ...(o.withNonce && o.context.nonce !== undefined ? { nonce: o.context.nonce } : {}),
      at_hash: tokenHashClaim(o.accessToken),
    },
    { alg, typ: 'JWT' },
  );
}
