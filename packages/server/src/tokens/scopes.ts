import { type Permission, ROLE_PERMISSIONS, type Role } from '../orgs/roles.js';

/** Scopes a Latchkey API token can carry beyond org permissions: person-level actions. */
export const ACCOUNT_SCOPES = ['orgs:create', 'account:write'] as const;

/** Every scope of Latchkey's own API: the org permissions plus the person-level ones. */
export const API_SCOPES: readonly string[] = [...ROLE_PERMISSIONS.owner, ...ACCOUNT_SCOPES];

/** The scopes an org-bound credential holding `role` can use. */
export function scopesForRole(role: Role): string[] {
  return [...ROLE_PERMISSIONS[role]] as Permission[];
}

/** Which of `requested` are not in `allowed`. */
export function outside(requested: readonly string[], allowed: readonly string[]): string[] {
  return requested.filter((s) => !allowed.includes(s));
}
