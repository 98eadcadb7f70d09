import { Type } from 'typebox';
import { ApiError } from '../../errors.js';
import { Timestamp } from '../../http/shapes.js';
import { parseRpRegistration, POST_LOGOUT_URIS_MAX } from '../oidc/client-registration.js';
import type { Catalogue } from '../../tokens/catalogue.js';
import {
  CLIENT_NAME_MAX,
  type ClientMetadata,
  GRANT_TYPES,
  MAX_REDIRECT_URIS,
  parseClientMetadata,
} from '../client-metadata.js';
import { OAuthError } from '../errors.js';
import { REDIRECT_URI_MAX_LENGTH } from '../redirect-uri.js';
import type { Client } from '../store/clients.js';

/**
 * The wire side of `/api/v1/oauth/clients`: the request bodies and the app as answered, and the
 * checks that turn a body into client metadata (the validator every client goes through).
 */

export const ClientIdParams = Type.Object(
  { id: Type.String({ pattern: '^lkc_[0-9a-f]{32}$' }) },
  { additionalProperties: false },
);

const Fields = {
  name: Type.String({ minLength: 1, maxLength: CLIENT_NAME_MAX }),
  redirect_uris: Type.Array(Type.String({ minLength: 1, maxLength: REDIRECT_URI_MAX_LENGTH }), {
    maxItems: MAX_REDIRECT_URIS,
  }),
  scopes: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 100 }),
  grant_types: Type.Array(Type.Union(GRANT_TYPES.map((g) => Type.Literal(g))), { minItems: 1, maxItems: 4 }),
  // OpenID relying parties (RP-Initiated Logout §3.1, Registration §2).
  post_logout_redirect_uris: Type.Array(Type.String({ minLength: 1, maxLength: REDIRECT_URI_MAX_LENGTH }), {
    maxItems: POST_LOGOUT_URIS_MAX,
  }),
  id_token_signed_response_alg: Type.Union([Type.Literal('ES256'), Type.Literal('RS256')]),
};
const RpFields = {
  post_logout_redirect_uris: Type.Optional(Fields.post_logout_redirect_uris),
  id_token_signed_response_alg: Type.Optional(Fields.id_token_signed_response_alg),
};
export const CreateBody = Type.Object(
  {
    name: Fields.name,
    type: Type.Union([Type.Literal('public'), Type.Literal('confidential')]),
    redirect_uris: Type.Optional(Fields.redirect_uris),
    scopes: Type.Optional(Fields.scopes),
    grant_types: Type.Optional(Fields.grant_types),
    ...RpFields,
  },
  { additionalProperties: false },
);
export const UpdateBody = Type.Object(
  {
    name: Type.Optional(Fields.name),
    redirect_uris: Type.Optional(Fields.redirect_uris),
    scopes: Type.Optional(Type.Union([Fields.scopes, Type.Null()])),
    grant_types: Type.Optional(Fields.grant_types),
    ...RpFields,
  },
  { additionalProperties: false, minProperties: 1 },
);
export const AppShape = Type.Object({
  id: Type.String(),
  client_id: Type.String(),
  name: Type.String(),
  type: Type.Union([Type.Literal('public'), Type.Literal('confidential')]),
  redirect_uris: Type.Array(Type.String()),
  scopes: Type.Union([Type.Array(Type.String()), Type.Null()]),
  grant_types: Type.Array(Type.String()),
  token_endpoint_auth_method: Type.String(),
  client_secret: Type.Optional(Type.String()),
  created_by: Type.String(),
  created_at: Timestamp,
  ...RpFields,
});

/** An app's OpenID registration from its body, checked like a dynamic registration's. */
export function rpFrom(b: { post_logout_redirect_uris?: string[]; id_token_signed_response_alg?: string }) {
  try {
    return parseRpRegistration(b);
  } catch (err) {
    if (err instanceof OAuthError)
      throw new ApiError('invalid_request', err.description, { extra: { error: err.code } });
    throw err;
  }
}

export function appShape(c: Client, createdBy: string, secret?: string) {
  return {
    id: c.id,
    client_id: c.id,
    name: c.name,
    type: c.authMethod === 'none' ? ('public' as const) : ('confidential' as const),
    redirect_uris: [...c.redirectUris],
    scopes: c.scopes ? [...c.scopes] : null,
    grant_types: [...c.grantTypes],
    token_endpoint_auth_method: c.authMethod,
    ...(secret ? { client_secret: secret } : {}),
    created_by: createdBy,
    created_at: c.createdAt.toISOString(),
  };
}

/** App metadata through the one validator every client goes through; its errors become problems. */
export function validatedApp(catalogue: Catalogue, m: Record<string, unknown>): ClientMetadata {
  try {
    return parseClientMetadata(m, 'app', catalogue);
  } catch (err) {
    if (err instanceof OAuthError)
      throw new ApiError('invalid_request', err.description, { extra: { error: err.code } });
    throw err;
  }
}
