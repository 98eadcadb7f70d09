import { SCOPE_RE } from '../config/catalogue.js';
import type { Catalogue, Resource } from '../tokens/catalogue.js';
import type { Client } from './store/clients.js';
import { OAuthError } from './errors.js';

/**
 * Which scopes a request gets. Two rules decide it:
 *
 * - **The bound.** For clients that registered themselves (dynamic registration, Client ID
 *   Metadata Documents) the resource's scopes are the bound and the person's consent is the
 *   control: the `scope` they registered is not a ceiling (anyone may register again with a wider
 *   one, so a ceiling would only stop honest clients from stepping up). An app an org admin made
 *   keeps its configured list as a real ceiling.
 * - **Narrowing.** Requested scopes that are not the resource's are dropped (RFC 6749 §3.3 lets
 *   the server ignore part of a request); the request is refused only when nothing of the resource
 *   remains. Protocol scopes (`PROTOCOL_SCOPES`) are recognised here, in one place: they ask
 *   nothing of the resource, so a request naming only them gets the resource's defaults.
 */

/**
 * Scopes that belong to the protocol rather than to a resource: OpenID Connect's (Core §5.4,
 * §11). Clients send them out of habit (`offline_access` for a refresh token, `openid profile
 * email` as a fallback). Refresh tokens follow the client's `grant_types`, not `offline_access`.
 */
export const PROTOCOL_SCOPES: readonly string[] = Object.freeze([
  'openid',
  'profile',
  'email',
  'offline_access',
]);

export function isProtocolScope(scope: string): boolean {
  return PROTOCOL_SCOPES.includes(scope);
}

/** Parses a `scope` parameter (RFC 6749 §3.3). Undefined: none given. Malformed → `invalid_scope`. */
export function parseScope(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const list = value.split(' ').filter(Boolean);
  if (list.length > 100 || list.some((s) => !SCOPE_RE.test(s))) {
    throw new OAuthError('invalid_scope', 'The scope parameter is malformed.');
  }
  return [...new Set(list)];
}

/** A named scope list split three ways: the resource's, the protocol's, and the rest (dropped). */
export function splitScopes(
  resource: Resource,
  named: readonly string[],
): { resource: string[]; protocol: string[]; dropped: string[] } {
  const out = { resource: [] as string[], protocol: [] as string[], dropped: [] as string[] };
  for (const s of named) {
    if (resource.scopes.includes(s)) out.resource.push(s);
    else if (isProtocolScope(s)) out.protocol.push(s);
    else out.dropped.push(s);
  }
  return out;
}

/** The client's registered scope list when it is a ceiling (org admins' apps), else null. */
export function scopeCeiling(client: Client): readonly string[] | null {
  return client.kind === 'app' ? client.scopes : null;
}

/** The scopes a client may ask for at a resource: the resource's, within an app's ceiling. */
export function allowedScopes(resource: Resource, client: Client): string[] {
  const ceiling = scopeCeiling(client);
  return resource.scopes.filter((s) => ceiling === null || ceiling.includes(s));
}

/**
 * The scopes when a request names none of the resource's: the client's registered scopes at
 * this resource when it registered some, else the resource's defaults — never a high-risk one.
 */
function defaultScopes(
  catalogue: Catalogue,
  resource: Resource,
  client: Client,
  allowed: string[],
): string[] {
  const defaults = catalogue.defaultScopes(resource).filter((s) => allowed.includes(s));
  if (client.kind !== 'app' && client.scopes) {
    const registered = defaults.filter((s) => client.scopes!.includes(s));
    if (registered.length > 0) return registered;
  }
  return defaults;
}

/**
 * The resource scopes an authorization, device or token request asks for. Scopes of other
 * resources and unknown ones are dropped; only protocol scopes, or none, → the defaults. Refused
 * (`invalid_scope`) when nothing of the resource remains, or when an app asks beyond its ceiling.
 */
export function requestedScopes(
  catalogue: Catalogue,
  resource: Resource,
  client: Client,
  scope: string | undefined,
): string[] {
  const allowed = allowedScopes(resource, client);
  const named = parseScope(scope);
  if (named !== undefined && named.length === 0)
    throw new OAuthError('invalid_scope', 'The scope parameter is empty.');
  const split = named === undefined ? undefined : splitScopes(resource, named);
  if (split === undefined || (split.resource.length === 0 && split.dropped.length === 0)) {
    const defaults = defaultScopes(catalogue, resource, client, allowed);
    if (defaults.length === 0) throw new OAuthError('invalid_scope', 'Name the scopes to request.');
    return defaults;
  }
  const beyond = split.resource.find((s) => !allowed.includes(s));
  if (beyond) throw new OAuthError('invalid_scope', `The scope ${beyond} is not allowed for this app.`);
  if (split.resource.length === 0)
    throw new OAuthError('invalid_scope', 'None of the requested scopes is available at this resource.');
  return split.resource;
}

/** The resource a request names (RFC 8707): exactly one, configured. Missing or unknown → `invalid_target`. */
export function requestedResource(catalogue: Catalogue, value: string | undefined): Resource {
  if (value === undefined || value === '')
    throw new OAuthError('invalid_target', 'The resource parameter is required (RFC 8707).');
  const r = catalogue.resource(value);
  if (!r) throw new OAuthError('invalid_target', 'The resource is not one this server issues tokens for.');
  return r;
}
