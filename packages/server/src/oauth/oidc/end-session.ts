import { audit } from '../../audit/log.js';
import type { Actor } from '../../auth/principal.js';
import { revokeSession } from '../../accounts/sessions.js';
import type { OAuthDeps } from '../grants/types.js';
import { rpRegistration } from './client-registration.js';

/**
 * RP-Initiated Logout 1.0: what an end-session request asks, checked. Errors here are rendered,
 * never redirected: a `post_logout_redirect_uri` is used only when it is registered, exactly, for
 * the client the request names (by `client_id` or the ID token hint's audience).
 */
export interface EndSessionRequest {
  /** The person the ID token hint names, when a valid hint was sent. */
  hintedSub: string | null;
  hintedSid: string | null;
  clientId: string | null;
  redirectUri: string | null;
  state: string | undefined;
}

export class EndSessionError extends Error {
  constructor(readonly description: string) {
    super(description);
    this.name = 'EndSessionError';
  }
}

const str = (p: Record<string, unknown>, k: string): string | undefined => {
  const v = p[k];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string' || v.length > 4000) throw new EndSessionError(`${k} must be given once.`);
  return v;
};

export async function checkEndSession(
  deps: Pick<OAuthDeps, 'db' | 'keys' | 'config'>,
  params: Record<string, unknown>,
): Promise<EndSessionRequest> {
  const hint = str(params, 'id_token_hint');
  let hintedSub: string | null = null;
  let hintedSid: string | null = null;
  let hintedAud: string | null = null;
  if (hint !== undefined) {
    try {
      const { payload } = await deps.keys.verify(hint, {
        issuer: deps.config.publicUrl,
        // An expired ID token still identifies the session to end.
        clockTolerance: Number.MAX_SAFE_INTEGER,
      });
      hintedSub = typeof payload.sub === 'string' ? payload.sub : null;
      hintedSid = typeof payload.sid === 'string' ? payload.sid : null;
      hintedAud = Array.isArray(payload.aud) ? (payload.aud[0] ?? null) : (payload.aud ?? null);
    } catch {
      throw new EndSessionError('The id_token_hint is not an ID token this server issued.');
    }
  }
  const clientId = str(params, 'client_id') ?? null;
  if (clientId && hintedAud && clientId !== hintedAud)
    throw new EndSessionError('client_id does not match the audience of the id_token_hint.');
  const client = clientId ?? hintedAud;
  const redirect = str(params, 'post_logout_redirect_uri');
  let redirectUri: string | null = null;
  if (redirect !== undefined) {
    if (!client)
      throw new EndSessionError(
        'A post_logout_redirect_uri needs client_id or id_token_hint to name the client.',
      );
    const reg = await rpRegistration(deps.db, client);
    if (!reg.postLogoutRedirectUris.includes(redirect))
      throw new EndSessionError('The post_logout_redirect_uri is not registered for this client.');
    redirectUri = redirect;
  }
  const state = str(params, 'state');
  if (state !== undefined && state.length > 2000) throw new EndSessionError('state is too long.');
  return { hintedSub, hintedSid, clientId: client, redirectUri, state };
}

/** Ends a browser session and audits it. Returns the session's token hash (to drop from caches), or null. */
export async function endSession(
  deps: Pick<OAuthDeps, 'db' | 'clock'>,
  who: Actor,
  s: { userId: string; sessionId: string; clientId: string | null },
): Promise<string | null> {
  return deps.db.transaction().execute(async (trx) => {
    const hash = await revokeSession(trx, deps.clock, s.userId, s.sessionId);
    if (hash) {
      await audit(trx, deps.clock, who, {
        orgId: null,
        action: 'user.signout',
        target: `session:${s.sessionId}`,
        data: { via: 'end_session', client_id: s.clientId },
      });
    }
    return hash;
  });
}
