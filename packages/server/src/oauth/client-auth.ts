import type { CredentialRequest } from '../auth/principal.js';
import type { ClientAuthMethod } from '../db/schema/oauth.js';
import { type Client, type ClientDeps, findClient, secretMatches } from './store/clients.js';
import { OAuthError } from './errors.js';

/** The credentials a request presents at the token, revocation, introspection or device endpoint. */
export interface PresentedClient {
  readonly clientId: string;
  readonly secret: string | null;
  readonly method: ClientAuthMethod;
}

const BASIC_CHALLENGE = { 'www-authenticate': 'Basic realm="latchkey", charset="UTF-8"' };

function formDecode(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

/**
 * Reads client credentials (RFC 6749 §2.3.1): HTTP Basic with form-encoded id and secret, or
 * `client_id` / `client_secret` in the body. Using both at once is refused. Null: none presented.
 * Does NOT check them.
 */
export function presentedClient(
  req: Pick<CredentialRequest, 'headers'>,
  body: Record<string, string | undefined>,
): PresentedClient | null {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Basic +([A-Za-z0-9+/=]{1,1000}) *$/i.exec(header);
    if (!m)
      throw new OAuthError('invalid_client', 'Only HTTP Basic client authentication is accepted here.', {
        headers: BASIC_CHALLENGE,
      });
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0)
      throw new OAuthError('invalid_client', 'The Basic credentials are malformed.', {
        headers: BASIC_CHALLENGE,
      });
    let id: string;
    let secret: string;
    try {
      id = formDecode(decoded.slice(0, colon));
      secret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw new OAuthError('invalid_client', 'The Basic credentials are malformed.', {
        headers: BASIC_CHALLENGE,
      });
    }
    if (body.client_secret !== undefined)
      throw new OAuthError('invalid_request', 'Use one client authentication method, not two.');
    if (body.client_id !== undefined && body.client_id !== id)
      throw new OAuthError('invalid_request', 'client_id does not match the Basic credentials.');
    return { clientId: id, secret, method: 'client_secret_basic' };
  }
  if (body.client_id === undefined) return null;
  if (body.client_secret !== undefined)
    return { clientId: body.client_id, secret: body.client_secret, method: 'client_secret_post' };
  return { clientId: body.client_id, secret: null, method: 'none' };
}

/**
 * Authenticates the calling client by its registered method. Every failure — unknown client,
 * wrong secret, wrong method — is the same `invalid_client` (RFC 6749 §5.2).
 */
export async function authenticateClient(
  deps: ClientDeps,
  presented: PresentedClient | null,
): Promise<Client> {
  if (!presented)
    throw new OAuthError('invalid_client', 'Client authentication is required.', {
      headers: BASIC_CHALLENGE,
    });
  const headers = presented.method === 'client_secret_basic' ? BASIC_CHALLENGE : undefined;
  const fail = () =>
    new OAuthError('invalid_client', 'Client authentication failed.', headers ? { headers } : {});
  const client = await findClient(deps, presented.clientId, { fresh: false });
  if (!client) throw fail();
  if (client.authMethod !== presented.method) throw fail();
  if (presented.method !== 'none' && !secretMatches(client, presented.secret ?? '')) throw fail();
  return client;
}
