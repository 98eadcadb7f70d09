import { SCOPE_RE } from '../config/catalogue.js';
import type { Catalogue, Resource } from './catalogue.js';
import type { Client } from './clients.js';
import { OAuthError } from './errors.js';

/** Parses a `scope` parameter (RFC 6749 §3.3). Undefined: none given. Malformed → `invalid_scope`. */
export function parseScope(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(' ').filter(Boolean);
  if (list.length > 100 || list.some((s) => !SCOPE_RE.test(s))) {
    throw new OAuthError('invalid_scope', 'The scope parameter is malformed.');
  }
  return [...new Set(list)];
}

/** The scopes a client may ask for at a resource: the resource's, narrowed by the client's own list. */
export function allowedScopes(resource: Resource, client: Client): string[] {
  return resource.scopes.filter((s) => client.scopes === null || client.scopes.includes(s));
}

/**
 * The scopes an authorization or token request asks for: the named ones, which must all be
 * allowed (else `invalid_scope`), or by default the allowed scopes that are not high-risk.
 */
export function requestedScopes(
  catalogue: Catalogue,
  resource: Resource,
  client: Client,
  scope: string | undefined,
): string[] {
  const allowed = allowedScopes(resource, client);
  const named = parseScope(scope);
  if (named === undefined) {
    const defaults = catalogue.defaultScopes(resource).filter((s) => allowed.includes(s));
    if (defaults.length === 0) throw new OAuthError('invalid_scope', 'Name the scopes to request.');
    return defaults;
  }
  if (named.length === 0) throw new OAuthError('invalid_scope', 'The scope parameter is empty.');
  const outside = named.find((s) => !allowed.includes(s));
  if (outside)
    throw new OAuthError(
      'invalid_scope',
      `The scope ${outside} is not available at this resource for this client.`,
    );
  return named;
}

/** The resource a request names (RFC 8707): exactly one, configured. Missing or unknown → `invalid_target`. */
export function requestedResource(catalogue: Catalogue, value: string | undefined): Resource {
  if (value === undefined || value === '')
    throw new OAuthError('invalid_target', 'The resource parameter is required (RFC 8707).');
  const r = catalogue.resource(value);
  if (!r) throw new OAuthError('invalid_target', 'The resource is not one this server issues tokens for.');
  return r;
}
