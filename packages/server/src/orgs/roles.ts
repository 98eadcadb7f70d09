import type { Permission } from '../auth/permissions.js';
import type { Role } from '../db/schema/orgs.js';

export type { Role };
export const ROLES: readonly Role[] = ['owner', 'admin', 'member', 'billing'];

const ADMIN: readonly Permission[] = [
  'org:read',
  'org:update',
  'members:read',
  'members:manage',
  'invitations:manage',
  'audit:read',
  'billing:read',
  'tokens:manage',
  'oauth:manage',
];

export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  owner: new Set<Permission>([...ADMIN, 'org:delete', 'org:transfer']),
  admin: new Set<Permission>(ADMIN),
  member: new Set<Permission>(['org:read', 'members:read']),
  billing: new Set<Permission>(['org:read', 'billing:read']),
};

export function roleAllows(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}

/** Owners may grant any role; admins may grant any role but owner. Nobody else grants roles. */
export function mayGrant(actor: Role, role: Role): boolean {
  if (actor === 'owner') return true;
  return actor === 'admin' && role !== 'owner';
}
