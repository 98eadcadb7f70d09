import type { Permission, Role } from '@latchkey/contract';

/**
 * Whether the signed-in credential may do `permission` in `org`, as `GET /api/v1/me` says: the
 * server lists each org's permissions (the role there ∩ the credential's scopes). The dashboard
 * only uses it to hide what the caller cannot do; the API still decides.
 */
export function can(
  org: { readonly permissions?: readonly Permission[] } | null | undefined,
  permission: Permission,
): boolean {
  return org?.permissions?.includes(permission) ?? false;
}

/** Owners may grant any role; admins any role but owner. */
export function mayGrant(actor: Role | undefined, role: Role): boolean {
  if (actor === 'owner') return true;
  return actor === 'admin' && role !== 'owner';
}

export const ROLE_TEXT: Record<Role, string> = {
  owner: 'Everything, including deleting the organisation',
  admin: 'Members, settings, apps, keys and the audit log',
  member: 'Uses the product; reads the organisation',
  billing: 'Billing only',
};
