import type { ClientAuthMethod } from '../db/schema/oauth.js';
import type { Catalogue } from '../tokens/catalogue.js';
import { OAuthError } from './errors.js';
import { isPrivateUseRedirect, redirectUriProblem } from './redirect-uri.js';
import { isProtocolScope } from './scope.js';

/**
 * Client metadata (RFC 7591 §2) as Latchkey accepts it, for every way a client comes to exist:
 * dynamic registration, a Client ID Metadata Document, or an org admin's app. Unknown members are
 * ignored; a member we understand with a bad value is refused.
 */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  DEVICE_CODE_GRANT,
] as const;
export type GrantType = (typeof GRANT_TYPES)[number];
export const AUTH_METHODS: readonly ClientAuthMethod[] = [
  'none',
  'client_secret_basic',
  'client_secret_post',
];

export const MAX_REDIRECT_URIS = 20;
export const CLIENT_NAME_MAX = 100;

export interface ClientMetadata {
  readonly name: string;
  readonly redirectUris: readonly string[];
  readonly authMethod: ClientAuthMethod;
  readonly grantTypes: readonly GrantType[];
  /**
   * The scopes the client registered. For an org admin's app, the ceiling of what it may ask for
   * (null: any); for a self-registered client, only the default when a request names none.
   */
  readonly scopes: readonly string[] | null;
  /** Shown to people, never used for decisions. */
  readonly display: {
    client_uri?: string;
    logo_uri?: string;
    software_id?: string;
    software_version?: string;
  };
}

export type ClientSource = 'dcr' | 'cimd' | 'app';

const bad = (what: string) => new OAuthError('invalid_client_metadata', what);

function optionalString(o: Record<string, unknown>, key: string, max: number): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max)
    throw bad(`${key} must be a string of at most ${max} characters.`);
  return v;
}

function optionalHttpsUrl(o: Record<string, unknown>, key: string): string | undefined {
  const v = optionalString(o, key, 2000);
  if (v === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw bad(`${key} must be an https URL.`);
  }
  if (u.protocol !== 'https:' || u.username || u.password) throw bad(`${key} must be an https URL.`);
  return v;
}

/** Validates the metadata of a would-be client. Throws `invalid_client_metadata` / `invalid_redirect_uri`. */
export function parseClientMetadata(
  body: unknown,
  source: ClientSource,
  catalogue: Catalogue,
): ClientMetadata {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw bad('The metadata must be a JSON object.');
  const o = body as Record<string, unknown>;

  const uris = o.redirect_uris;
  const grantTypesRaw = o.grant_types;
  if (
    grantTypesRaw !== undefined &&
    (!Array.isArray(grantTypesRaw) || !grantTypesRaw.every((g) => typeof g === 'string'))
  ) {
    throw bad('grant_types must be an array of strings.');
  }
  // RFC 7591's default is authorization_code alone; Latchkey adds refresh_token (and says so in its answer).
  const defaultGrants: GrantType[] = ['authorization_code', 'refresh_token'];
  const grantTypes = [...new Set((grantTypesRaw as string[] | undefined) ?? defaultGrants)];
  for (const g of grantTypes) {
    if (!(GRANT_TYPES as readonly string[]).includes(g))
      throw bad(`The grant type ${g.slice(0, 100)} is not supported.`);
  }
  if (grantTypes.includes('client_credentials') && source !== 'app') {
    throw bad('client_credentials is only for confidential apps made by an organisation admin.');
  }
  if (grantTypes.includes('implicit') || grantTypes.includes('password'))
    throw bad('This grant type is not allowed.');

  const needsRedirect = grantTypes.includes('authorization_code');
  if (uris === undefined && needsRedirect) {
    throw new OAuthError(
      'invalid_redirect_uri',
      'redirect_uris is required for the authorization_code grant.',
    );
  }
  if (uris !== undefined && (!Array.isArray(uris) || uris.length > MAX_REDIRECT_URIS)) {
    throw new OAuthError(
      'invalid_redirect_uri',
      `redirect_uris must be an array of at most ${MAX_REDIRECT_URIS} URIs.`,
    );
  }
  const redirectUris = [...new Set((uris as unknown[] | undefined) ?? [])].map((u) => {
    if (typeof u !== 'string')
      throw new OAuthError('invalid_redirect_uri', 'Each redirect URI must be a string.');
    const problem = redirectUriProblem(u);
    if (problem) throw new OAuthError('invalid_redirect_uri', `The redirect URI ${problem}.`);
    return u;
  });
  if (needsRedirect && redirectUris.length === 0) {
    throw new OAuthError('invalid_redirect_uri', 'At least one redirect URI is required.');
  }

  const responseTypes = o.response_types;
  if (responseTypes !== undefined) {
    if (!Array.isArray(responseTypes) || responseTypes.some((r) => r !== 'code')) {
      throw bad('response_types may only contain "code".');
    }
  }

  const methodRaw = o.token_endpoint_auth_method;
  // RFC 7591 §2: the default is client_secret_basic. A metadata document cannot hold a shared secret.
  const authMethod = (methodRaw ?? (source === 'cimd' ? 'none' : 'client_secret_basic')) as ClientAuthMethod;
  if (typeof authMethod !== 'string' || !AUTH_METHODS.includes(authMethod)) {
    throw bad(`token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}.`);
  }
  if (source === 'cimd' && authMethod !== 'none') {
    throw bad('A client identified by a metadata document must use token_endpoint_auth_method "none".');
  }
  if (grantTypes.includes('client_credentials') && authMethod === 'none') {
    throw bad('client_credentials needs a confidential client.');
  }
  if (authMethod !== 'none' && redirectUris.some(isPrivateUseRedirect)) {
    throw new OAuthError(
      'invalid_redirect_uri',
      'A private-use URI scheme is only for public clients (token_endpoint_auth_method "none", RFC 8252 §8.4).',
    );
  }

  let scopes: string[] | null = null;
  if (o.scope !== undefined && o.scope !== null) {
    if (typeof o.scope !== 'string' || o.scope.length > 2000)
      throw bad('scope must be a space-separated string.');
    scopes = [...new Set(o.scope.split(' ').filter(Boolean))];
    const known = (s: string) => catalogue.allScopes.includes(s) || isProtocolScope(s);
    if (source === 'app') {
      const unknown = scopes.filter((s) => !catalogue.allScopes.includes(s));
      if (unknown.length > 0) throw bad(`Unknown scope ${unknown[0]!.slice(0, 100)}.`);
    } else {
      // A self-registered client's scope is a hint, not a ceiling (oauth/scope.ts): keep what
      // Latchkey knows (protocol scopes included), drop the rest; nothing left → none registered.
      scopes = scopes.filter(known);
      if (scopes.length === 0) scopes = null;
    }
  }

  const nameRaw = optionalString(o, 'client_name', CLIENT_NAME_MAX);
  const fallback = (redirectUris[0] && new URL(redirectUris[0]).host) || 'Unnamed client';
  const name = nameRaw?.trim() || fallback;
  if (/[\u0000-\u001f\u007f]/.test(name)) throw bad('client_name must not contain control characters.');

  const display: ClientMetadata['display'] = {};
  const clientUri = optionalHttpsUrl(o, 'client_uri');
  if (clientUri) display.client_uri = clientUri;
  const logoUri = optionalHttpsUrl(o, 'logo_uri');
  if (logoUri) display.logo_uri = logoUri;
  const softwareId = optionalString(o, 'software_id', 200);
  if (softwareId) display.software_id = softwareId;
  const softwareVersion = optionalString(o, 'software_version', 100);
  if (softwareVersion) display.software_version = softwareVersion;

  return { name, redirectUris, authMethod, grantTypes: grantTypes as GrantType[], scopes, display };
}
