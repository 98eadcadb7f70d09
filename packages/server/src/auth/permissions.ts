/**
 * The vocabulary of authorisation: what a request may do inside an org (permissions, which roles
 * grant: the table is `orgs/roles.ts`) and what a credential may do for its person (account scopes).
 */

/** What a request may do inside an org. Routes name one permission; roles grant sets of them. */
export type Permission =
  | 'org:read'
  | 'org:update'
  | 'org:delete'
  | 'org:transfer'
  | 'members:read'
  | 'members:manage'
  | 'invitations:manage'
  | 'audit:read'
  | 'billing:read'
  | 'tokens:manage'
  | 'oauth:manage';

/**
 * Scopes a Latchkey API token can carry beyond org permissions: person-level actions.
 * `account:read` reads the person's profile; `account:write` changes how they sign in and what
 * they hold (password, email, sessions, identities, personal tokens, grants) and is honoured
 * only from a browser session or a personal token a session minted; `orgs:create` makes orgs.
 */
export const ACCOUNT_SCOPES = ['orgs:create', 'account:read', 'account:write'] as const;
export type AccountScope = (typeof ACCOUNT_SCOPES)[number];
