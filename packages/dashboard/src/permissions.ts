import type { Role } from './types';

/**
 * What each role may do, as the server's role table says (DESIGN.md "Authorization"). The
 * dashboard only uses it to hide what a role cannot do; the API still decides.
 */
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

const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  owner: new Set<Permission>([...ADMIN, 'org:delete', 'org:transfer']),
  admin: new Set<Permission>(ADMIN),
  member: new Set<Permission>(['org:read', 'members:read']),
  billing: new Set<Permission>(['org:read', 'billing:read']),
};

export function can(role: Role | undefined, permission: Permission): boolean {
  return role !== undefined && ROLE_PERMISSIONS[role].has(permission);
}

/** Owners may grant any role; admins any role but owner. */
export function mayGrant(actor: Role | undefined, role: Role): boolean {
  if (actor === 'owner') return true;
  return actor === 'admin' && role !== 'owner';
}

/** Scopes of Latchkey's own API that each kind of token may carry. */
export const ORG_KEY_SCOPES: readonly string[] = ADMIN;
export const PAT_SCOPES: readonly string[] = [
  ...ADMIN,
  'org:delete',
  'org:transfer',
  'orgs:create',
  'account:write',
];

export const ROLE_TEXT: Record<Role, string> = {
  owner: 'Everything, including deleting the organisation',
  admin: 'Members, settings, apps, keys and the audit log',
  member: 'Uses the product; reads the organisation',
  billing: 'Billing only',
};
