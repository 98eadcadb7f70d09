/** Table types of SCIM provisioning: the org's SCIM config, users, groups and group members. */
import type { JsonOf, Timestamp } from './columns.js';
import type { Role } from './orgs.js';

export interface ScimConfigsTable {
  org_id: string;
  /** SHA-256 of the org's SCIM bearer secret; null when SCIM is off. */
  token_hash: string | null;
  token_prefix: string | null;
  token_created_at: Timestamp | null;
  token_created_by: string | null;
  last_sync_at: Timestamp | null;
  last_sync_result: 'success' | 'failure' | null;
  last_sync_status: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ScimUsersTable {
  /** The SCIM resource id (one per org and person). */
  id: string;
  org_id: string;
  /** The account; null while the record is pending (waiting on `invitation_id`). */
  user_id: string | null;
  /** The userName the identity provider sent (normalised email): the org's own view. */
  user_name: string;
  /** The invitation a pending record waits on; null once linked (or when none is open). */
  invitation_id: string | null;
  external_id: string | null;
  given_name: string | null;
  family_name: string | null;
  formatted_name: string | null;
  display_name: string | null;
  emails: JsonOf<{ value: string; type?: string; primary?: boolean }[]>;
  version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ScimGroupsTable {
  id: string;
  org_id: string;
  display_name: string;
  external_id: string | null;
  /** The role the group's members get; null maps none. */
  role: Exclude<Role, 'owner'> | null;
  version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ScimGroupMembersTable {
  group_id: string;
  scim_user_id: string;
  org_id: string;
  created_at: Timestamp;
}
