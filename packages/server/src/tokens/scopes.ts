import { type Permission, ROLE_PERMISSIONS, type Role } from '../orgs/roles.js';

/**
 * Scopes a Latchkey API token can carry beyond org permissions: person-level actions.
 * `account:read` reads the person's profile; `account:write` changes how they sign in and what
 * they hold (password, email, sessions, identities, personal tokens, grants) and is honoured
 * only from a browser session or a personal token a session minted; `orgs:create` makes orgs.
 */
export const ACCOUNT_SCOPES = ['orgs:create', 'account:read', 'account:write'] as const;
export type AccountScope = (typeof ACCOUNT_SCOPES)[number];

/** Every scope of Latchkey's own API: the org permissions plus the person-level ones. */
export const API_SCOPES: readonly string[] = [...ROLE_PERMISSIONS.owner, ...ACCOUNT_SCOPES];

/** What a new token holds when its creator names no scopes: the least, reading the org. */
export const DEFAULT_TOKEN_SCOPES: readonly string[] = ['org:read'];

/** The scopes an org-bound credential holding `role` can use. */
export function scopesForRole(role: Role): string[] {
  return [...ROLE_PERMISSIONS[role]] as Permission[];
}

/** Which of `requested` are not in `allowed`. */
export function outside(requested: readonly string[], allowed: readonly string[]): string[] {
  return requested.filter((s) => !allowed.includes(s));
}
