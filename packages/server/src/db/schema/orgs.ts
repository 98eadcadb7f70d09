/** Table types of orgs: the org, its memberships and role, its invitations. */
import type { ColumnType, Selectable } from 'kysely';
import type { Timestamp } from './columns.js';

export type Role = 'owner' | 'admin' | 'member' | 'billing';

export interface OrgsTable {
  id: string;
  slug: string;
  name: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  mfa_required: ColumnType<boolean, boolean | undefined, boolean>;
  mfa_grace_days: ColumnType<number, number | undefined, number>;
  mfa_required_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface MembershipsTable {
  org_id: string;
  user_id: string;
  role: Role;
  created_at: Timestamp;
}

/**
 * A person's orgs as `/api/v1/me` lists them, kept by triggers on `memberships` and `orgs`
 * (migration `2026-12-07T0600-membership-lists`); no row reads as an empty list.
 */
export interface MembershipListsTable {
  user_id: string;
  orgs: ColumnType<MembershipListEntry[], never, never>;
}

export interface MembershipListEntry {
  id: string;
  slug: string;
  name: string;
  role: Role;
}

export interface InvitationsTable {
  id: string;
  org_id: string;
  email: string;
  role: Role;
  token_hash: string;
  invited_by: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  accepted_at: Timestamp | null;
  accepted_by: string | null;
  revoked_at: Timestamp | null;
}

export type Org = Selectable<OrgsTable>;
