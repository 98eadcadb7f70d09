/**
 * Latchkey's authorisation vocabulary as it travels on the wire: roles, the permissions a request
 * may hold inside an org, the account scopes a credential may hold for its person, and which of
 * them each kind of Latchkey API token may carry. The server grants from these lists (the role →
 * permission table is the server's `orgs/roles.ts`); clients read them to label and offer choices.
 */

/** A person's role in an org. */
export const ROLES = ['owner', 'admin', 'member', 'billing'] as const;
export type Role = (typeof ROLES)[number];

/** What a request may do inside an org. Routes name one permission; roles grant sets of them. */
export const PERMISSIONS = [
  'org:read',
  'org:update',
  'org:delete',
  'org:transfer',
  'members:read',
  'members:manage',
  'invitations:manage',
  'audit:read',
  'billing:read',
  'tokens:manage',
  'oauth:manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * Scopes a Latchkey API token can carry beyond org permissions: person-level actions.
 * `account:read` reads the person's profile; `account:write` changes how they sign in and what
 * they hold (password, email, sessions, identities, personal tokens, grants) and is honoured
 * only from a browser session or a personal token a session minted; `orgs:create` makes orgs.
 */
export const ACCOUNT_SCOPES = ['orgs:create', 'account:read', 'account:write'] as const;
export type AccountScope = (typeof ACCOUNT_SCOPES)[number];

/** Any scope of Latchkey's own API. */
export type ApiScope = Permission | AccountScope;

/**
 * What an org API key or a service token may carry: an admin's permissions (everything in the org
 * but deleting or transferring it). It is also what such a key holds when it names no scopes.
 */
export const ORG_KEY_SCOPES = [
  'org:read',
  'org:update',
  'members:read',
  'members:manage',
  'invitations:manage',
  'audit:read',
  'billing:read',
  'tokens:manage',
  'oauth:manage',
] as const satisfies readonly Permission[];
export type OrgKeyScope = (typeof ORG_KEY_SCOPES)[number];

/** What a personal token may carry: every scope of Latchkey's API (an owner's permissions and the account scopes). */
export const PAT_SCOPES = [
  ...ORG_KEY_SCOPES,
  'org:delete',
  'org:transfer',
  ...ACCOUNT_SCOPES,
] as const satisfies readonly ApiScope[];
export type PatScope = (typeof PAT_SCOPES)[number];
