import { OAuthError } from '../errors.js';
import { SIGNING_ALGS, type SigningAlg } from './keys.js';
import type { Executor } from '../../db/executor.js';

/** At most this many post-logout redirect URIs per client. */
export const POST_LOGOUT_URIS_MAX = 10;

/** A relying party's OpenID registration (OpenID Connect Registration §2, RP-Initiated Logout §3.1). */
export interface RpRegistration {
  postLogoutRedirectUris: string[];
  idTokenAlg: SigningAlg | null;
}

const NONE: RpRegistration = { postLogoutRedirectUris: [], idTokenAlg: null };

/**
 * Reads `post_logout_redirect_uris` and `id_token_signed_response_alg` from registration metadata
 * (dynamic registration or an org app). Each URI must be an absolute https URL, or http on a
 * loopback host, without a fragment. Only `code` responses exist here, so `response_types`, when
 * given, must be exactly `["code"]`. Throws `invalid_client_metadata`/`invalid_redirect_uri`.
 */
export function parseRpRegistration(body: unknown): RpRegistration {
  if (typeof body !== 'object' || body === null) return NONE;
  const b = body as Record<string, unknown>;
  const bad = (d: string) => new OAuthError('invalid_client_metadata', d);
  if (b.response_types !== undefined) {
    const rt = b.response_types;
    if (!Array.isArray(rt) || rt.length !== 1 || rt[0] !== 'code')
      throw bad('response_types must be ["code"]: implicit and hybrid flows are not offered.');
  }
  let idTokenAlg: SigningAlg | null = null;
  if (b.id_token_signed_response_alg !== undefined) {
    if (!SIGNING_ALGS.includes(b.id_token_signed_response_alg as SigningAlg))
      throw bad(`id_token_signed_response_alg must be one of ${SIGNING_ALGS.join(', ')}.`);
    idTokenAlg = b.id_token_signed_response_alg as SigningAlg;
  }
  const uris: string[] = [];
  if (b.post_logout_redirect_uris !== undefined) {
    const list = b.post_logout_redirect_uris;
    if (!Array.isArray(list) || list.length > POST_LOGOUT_URIS_MAX)
      throw bad(`post_logout_redirect_uris must be a list of at most ${POST_LOGOUT_URIS_MAX} URLs.`);
    for (const v of list) {
      if (typeof v !== 'string' || !validLogoutUri(v))
        throw new OAuthError(
          'invalid_redirect_uri',
          'Each post_logout_redirect_uri must be an absolute https URL (http only on loopback), without a fragment.',
        );
      if (!uris.includes(v)) uris.push(v);
    }
  }
  return { postLogoutRedirectUris: uris, idTokenAlg };
}

function validLogoutUri(v: string): boolean {
  if (v.length > 2000 || v.includes('#')) return false;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return false;
  }
  if (u.username || u.password) return false;
  if (u.protocol === 'https:') return true;
  return u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname);
}

/** Stores a client's OpenID registration (nothing to store → null). */
export async function saveRpRegistration(db: Executor, clientId: string, r: RpRegistration): Promise<void> {
  const empty = r.postLogoutRedirectUris.length === 0 && r.idTokenAlg === null;
  await db
    .updateTable('oauth_clients')
    .set({
      oidc: empty
        ? null
        : JSON.stringify({
            post_logout_redirect_uris: r.postLogoutRedirectUris,
            id_token_signed_response_alg: r.idTokenAlg,
          }),
    })
    .where('id', '=', clientId)
    .execute();
}

/** A client's OpenID registration; the empty one when it has none (or the client is unknown). */
export async function rpRegistration(db: Executor, clientId: string): Promise<RpRegistration> {
  const row = await db
    .selectFrom('oauth_clients')
    .select('oidc')
    .where('id', '=', clientId)
    .executeTakeFirst();
  return rpRegistrationOf(row?.oidc);
}

/** The registration stored in a client row's `oidc` column (JSON text or, from PostgreSQL, parsed). */
export function rpRegistrationOf(column: unknown): RpRegistration {
  const o = (typeof column === 'string' ? JSON.parse(column) : column) as
    | { post_logout_redirect_uris?: string[]; id_token_signed_response_alg?: SigningAlg | null }
    | null
    | undefined;
  if (!o) return NONE;
  return {
    postLogoutRedirectUris: o.post_logout_redirect_uris ?? [],
    idTokenAlg: o.id_token_signed_response_alg ?? null,
  };
}

/** The registration fields answered back by dynamic registration and the apps API. */
export function rpRegistrationFields(r: RpRegistration) {
  return {
    ...(r.postLogoutRedirectUris.length ? { post_logout_redirect_uris: r.postLogoutRedirectUris } : {}),
    ...(r.idTokenAlg ? { id_token_signed_response_alg: r.idTokenAlg } : {}),
  };
}
