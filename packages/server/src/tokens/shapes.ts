import { Type } from 'typebox';
import { Timestamp } from '../http/shapes.js';
import { TOKEN_MAX_LIFETIME_S, TOKEN_MIN_LIFETIME_S, TOKEN_NAME_MAX } from './mint.js';
import { API_SCOPES, scopesForRole } from './scopes.js';

/** The token API's wire shapes: what a mint asks for, and a token as the API shows it. */

export const TokenType = Type.Union([Type.Literal('pat'), Type.Literal('svc')]);
export const MintBody = {
  name: Type.Optional(Type.String({ minLength: 1, maxLength: TOKEN_NAME_MAX })),
  scopes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 50 })),
  expires_in: Type.Optional(
    Type.Integer({
      minimum: TOKEN_MIN_LIFETIME_S,
      maximum: TOKEN_MAX_LIFETIME_S,
      description:
        'Lifetime in seconds. Default: 90 days, and never later than the credential minting the token expires.',
    }),
  ),
  never_expires: Type.Optional(
    Type.Boolean({
      description:
        'true: the token never expires. Only from a credential that does not expire itself (a browser session or a non-expiring token).',
    }),
  ),
};
export const Token = Type.Object({
  id: Type.String(),
  type: Type.String(),
  token: Type.Optional(Type.String()),
  prefix: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  scopes: Type.Array(Type.String()),
  org_id: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  expires_at: Type.Union([Timestamp, Type.Null()]),
  created_by: Type.String(),
  last_used_at: Type.Optional(Type.Union([Timestamp, Type.Null()])),
  /** On mint only: says in words that the secret is shown once. */
  warning: Type.Optional(Type.String()),
});

/** What every mint response says beside the secret, for API and CLI users who never see the dashboard. */
export const SHOWN_ONCE_WARNING =
  'This is the only time the token is shown: store it now in a secret manager. Latchkey keeps only its hash and cannot show it again; if it is lost or leaked, revoke it and mint a new one.';

/** What a token of a kind may carry at most. */
export const ORG_TOKEN_SCOPES = scopesForRole('admin');

export interface ListedRow {
  id: string;
  kind: string;
  prefix: string;
  name: string | null;
  scopes: string[] | null;
  org_id: string | null;
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}

export function shape(r: ListedRow, withLastUsed: boolean) {
  const scopes = typeof r.scopes === 'string' ? (JSON.parse(r.scopes) as string[]) : r.scopes;
  return {
    id: r.id,
    type: r.kind,
    prefix: r.prefix,
    name: r.name,
    scopes: scopes ?? [...(r.kind === 'pat' ? API_SCOPES : ORG_TOKEN_SCOPES)],
    org_id: r.org_id,
    created_at: r.created_at.toISOString(),
    expires_at: r.expires_at?.toISOString() ?? null,
    created_by: r.created_by,
    ...(withLastUsed ? { last_used_at: r.last_used_at?.toISOString() ?? null } : {}),
  };
}
