import { ACCOUNT_SCOPES } from '../auth/permissions.js';
import { type Permission } from '../auth/permissions.js';
import { ROLE_PERMISSIONS, type Role } from '../orgs/roles.js';

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
