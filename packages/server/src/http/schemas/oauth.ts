import { Type } from 'typebox';
import { PARSED_BY_HANDLER } from './openapi.js';

/**
 * The OAuth / OpenID Connect endpoints' request and response shapes, for their route schemas.
 * Form bodies are parsed by the handlers (`formParams`: a repeated parameter is its own RFC 6749
 * error), so their schemas document and do not validate. Responses allow further members, so a
 * field an endpoint adds is never dropped by serialisation.
 */

const FORM = ['application/x-www-form-urlencoded'];
const param = (description: string) => Type.Optional(Type.String({ maxLength: 4000, description }));
const clientAuth = {
  client_id: param(
    'The client, when not authenticated with HTTP Basic (public clients, client_secret_post).',
  ),
  client_secret: param('client_secret_post only; prefer HTTP Basic.'),
};

export const TokenForm = Type.Object(
  {
    grant_type: Type.String({
      enum: [
        'authorization_code',
        'refresh_token',
        'client_credentials',
        'urn:ietf:params:oauth:grant-type:device_code',
      ],
    }),
    code: param('authorization_code: the code from the redirect.'),
    redirect_uri: param('authorization_code: the redirect URI the code was sent to.'),
    code_verifier: param('authorization_code: the PKCE verifier (S256).'),
    refresh_token: param('refresh_token: the refresh token; it is rotated.'),
    device_code: param('device_code: the device code.'),
    scope: param('Space-separated scopes (a subset of those granted).'),
    resource: param('RFC 8707 resource indicator: the one resource the token serves.'),
    ...clientAuth,
  },
  {
    [PARSED_BY_HANDLER]: true,
    examples: [
      { grant_type: 'client_credentials' },
      {
        grant_type: 'authorization_code',
        code: 'abc…',
        redirect_uri: 'http://127.0.0.1:3000/cb',
        code_verifier: '…',
        client_id: 'lkc_…',
      },
    ],
  },
);

export const TokenAnswer = Type.Object(
  {
    access_token: Type.String(),
    token_type: Type.String({ examples: ['Bearer'] }),
    expires_in: Type.Integer(),
    refresh_token: Type.Optional(Type.String()),
    scope: Type.Optional(Type.String()),
    id_token: Type.Optional(Type.String({ description: 'OpenID Connect: when the tokens hold `openid`.' })),
  },
  {
    additionalProperties: true,
    examples: [
      {
        access_token: 'lk_at_…',
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: 'lk_rt_…',
        scope: 'mcp:read mcp:write',
      },
    ],
  },
);

export const TokenOnlyForm = Type.Object(
  {
    token: Type.String({ maxLength: 4000, description: 'The access or refresh token.' }),
    token_type_hint: Type.Optional(Type.String({ enum: ['access_token', 'refresh_token'] })),
    ...clientAuth,
  },
  { [PARSED_BY_HANDLER]: true },
);

export const IntrospectForm = Type.Object(
  {
    ...TokenOnlyForm.properties,
    org: param(
      'The org (id or slug) the caller says it acts in, as Latchkey’s API takes it in `x-org-id`. ' +
        'The token is active only if it may act there now: a personal token while its person is a ' +
        'member (and not shut out by the org’s `mfa_required` policy), an org-bound credential only ' +
        'in its own org. The answer then names the org (`org_id`, `org_slug`) and the person’s ' +
        '`org_role`. Any other org — unknown, left, someone else’s — is `{"active": false}`.',
    ),
  },
  { [PARSED_BY_HANDLER]: true },
);

export const Introspection = Type.Object(
  {
    active: Type.Boolean(),
    scope: Type.Optional(Type.String()),
    client_id: Type.Optional(Type.String()),
    sub: Type.Optional(Type.String()),
    aud: Type.Optional(Type.String()),
    iss: Type.Optional(Type.String()),
    exp: Type.Optional(Type.Integer()),
    iat: Type.Optional(Type.Integer()),
    token_type: Type.Optional(Type.String()),
    org_id: Type.Optional(
      Type.Union([Type.String(), Type.Null()], {
        description:
          'The org the token acts in: an org-bound credential’s own org, or the org the request ' +
          'named (`org`); null for a personal token asked about without `org` (it acts as its ' +
          'person in any of their orgs).',
      }),
    ),
    org_slug: Type.Optional(
      Type.String({ description: 'With `org`: the slug of the org the token acts in.' }),
    ),
    org_role: Type.Optional(
      Type.String({
        enum: ['owner', 'admin', 'member', 'billing'],
        description: 'With `org`, for a credential that acts as a person: their role in that org now.',
      }),
    ),
  },
  {
    additionalProperties: true,
    description: 'RFC 7662 §2.2: an unknown, expired or someone else’s token is `{"active": false}`.',
  },
);

export const DeviceForm = Type.Object(
  { scope: param('Space-separated scopes.'), resource: param('RFC 8707 resource indicator.'), ...clientAuth },
  { [PARSED_BY_HANDLER]: true },
);

export const DeviceAnswer = Type.Object(
  {
    device_code: Type.String(),
    user_code: Type.String({ examples: ['WDJB-MJHT'] }),
    verification_uri: Type.String(),
    verification_uri_complete: Type.String(),
    expires_in: Type.Integer(),
    interval: Type.Integer(),
  },
  { additionalProperties: true },
);

/** RFC 7591 client metadata; the handler checks every field (`parseClientMetadata`). */
export const RegistrationRequest = Type.Object(
  {
    redirect_uris: Type.Array(Type.String()),
    client_name: Type.Optional(Type.String()),
    grant_types: Type.Optional(Type.Array(Type.String())),
    response_types: Type.Optional(Type.Array(Type.String())),
    token_endpoint_auth_method: Type.Optional(
      Type.String({ enum: ['none', 'client_secret_basic', 'client_secret_post'] }),
    ),
    scope: Type.Optional(Type.String()),
  },
  {
    [PARSED_BY_HANDLER]: true,
    additionalProperties: true,
    examples: [
      {
        client_name: 'My MCP client',
        redirect_uris: ['http://127.0.0.1:33418/callback'],
        token_endpoint_auth_method: 'none',
      },
    ],
  },
);

/** A list the handler holds read-only. */
const List = () => Type.Unsafe<readonly string[]>(Type.Array(Type.String()));

export const RegistrationAnswer = Type.Object(
  {
    client_id: Type.String(),
    client_secret: Type.Optional(Type.String({ description: 'Shown once.' })),
    client_secret_expires_at: Type.Optional(Type.Integer()),
    client_id_issued_at: Type.Integer(),
    client_name: Type.String(),
    redirect_uris: List(),
    grant_types: List(),
    response_types: List(),
    token_endpoint_auth_method: Type.String(),
    scope: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

export const ServerMetadata = Type.Object(
  {
    issuer: Type.String(),
    authorization_endpoint: Type.String(),
    token_endpoint: Type.String(),
    jwks_uri: Type.String(),
    scopes_supported: Type.Array(Type.String()),
  },
  { additionalProperties: true, description: 'RFC 8414 / OpenID Connect Discovery 1.0 metadata.' },
);

export const ResourceMetadata = Type.Object(
  {
    resource: Type.String(),
    authorization_servers: Type.Array(Type.String()),
    scopes_supported: Type.Array(Type.String()),
  },
  { additionalProperties: true, description: 'RFC 9728 protected resource metadata.' },
);

export const Jwks = Type.Object(
  {
    keys: Type.Array(
      Type.Object(
        { kty: Type.Optional(Type.String()), kid: Type.Optional(Type.String()) },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: true },
);

export const UserinfoAnswer = Type.Object(
  { sub: Type.String() },
  { additionalProperties: true, description: 'The claims the token’s scopes release (Core §5.3).' },
);

/** The authorization request (RFC 6749 §4.1.1, PKCE, RFC 8707, OpenID Connect Core §3.1.2.1). */
export const AuthorizeQuery = Type.Object(
  {
    response_type: Type.String({ enum: ['code'] }),
    client_id: Type.String({ description: 'A registered client id, or a client ID metadata document URL.' }),
    redirect_uri: Type.String(),
    code_challenge: Type.String({ description: 'PKCE, required.' }),
    code_challenge_method: Type.String({ enum: ['S256'] }),
    scope: param('Space-separated scopes; `openid` for an ID token.'),
    state: param('Returned unchanged with the code.'),
    resource: param('RFC 8707 resource indicator.'),
    nonce: param('OpenID Connect: echoed in the ID token.'),
    prompt: Type.Optional(Type.String({ enum: ['none', 'login', 'consent', 'select_account'] })),
    max_age: param('OpenID Connect: seconds since the last sign-in.'),
    id_token_hint: param('OpenID Connect: an ID token this provider issued.'),
    login_hint: param('The email address to sign in with.'),
  },
  { [PARSED_BY_HANDLER]: true },
);

const html = (description: string) => ({
  description,
  content: { 'text/html': { schema: Type.String() } },
});

export const AUTHORIZE_RESPONSES = {
  200: html('The consent page (a person must approve the client).'),
  303: {
    description:
      'To the sign-in page, or back to the client’s redirect URI with `code`, `state` and `iss` (or `error`).',
    type: 'null',
  },
  400: html('The request cannot be trusted to redirect (unknown client, bad redirect URI): a page says why.'),
};

/** Confidential clients authenticate with HTTP Basic; public ones name themselves in the form. */
const CLIENT_AUTH: Record<string, string[]>[] = [{ clientSecretBasic: [] }, {}];

/** The route schemas of the OAuth endpoints and discovery documents (`oauth/routes.ts`). */
export const serverMetadataRoute = (path: string) => ({
  operationId: path.endsWith('openid-configuration') ? 'openidConfiguration' : 'authorizationServerMetadata',
  summary: 'Authorization server metadata (RFC 8414, OpenID Connect Discovery)',
  response: { 200: ServerMetadata },
});

export const RESOURCE_METADATA_ROUTE = {
  operationId: 'apiResourceMetadata',
  summary: 'Protected resource metadata of this API (RFC 9728)',
  response: { 200: ResourceMetadata },
};

export const REGISTER_ROUTE = {
  operationId: 'registerClient',
  summary: 'Dynamic client registration (RFC 7591)',
  body: RegistrationRequest,
  response: { 201: RegistrationAnswer },
};

export const TOKEN_ROUTE = {
  operationId: 'token',
  summary: 'Token endpoint (RFC 6749 §3.2)',
  consumes: FORM,
  security: CLIENT_AUTH,
  body: TokenForm,
  response: { 200: TokenAnswer },
};

export const REVOKE_ROUTE = {
  operationId: 'revokeToken',
  summary: 'Token revocation (RFC 7009)',
  consumes: FORM,
  security: CLIENT_AUTH,
  body: TokenOnlyForm,
  response: {
    200: Type.Unsafe<undefined>(Type.Null({ description: 'Revoked, or unknown: the answer is the same.' })),
  },
};

export const INTROSPECT_ROUTE = {
  operationId: 'introspectToken',
  summary: 'Token introspection (RFC 7662), for confidential clients and resource servers',
  consumes: FORM,
  security: [{ clientSecretBasic: [] }],
  body: IntrospectForm,
  response: { 200: Introspection },
};

export const DEVICE_ROUTE = {
  operationId: 'deviceAuthorization',
  summary: 'Device authorization (RFC 8628 §3.1)',
  consumes: FORM,
  security: CLIENT_AUTH,
  body: DeviceForm,
  response: { 200: DeviceAnswer },
};
