/** Table types of accounts: users, sessions, factors, single-use links, devices, identities, waitlist. */
import type { ColumnType, Selectable, Updateable } from 'kysely';
import type { Timestamp } from './columns.js';

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  email_verified_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Operator: manages the sign-up policy and the waitlist. */
  instance_admin: ColumnType<boolean, boolean | undefined, boolean>;
  /** An instance admin disabled the account: every credential of it is refused. */
  disabled_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  user_id: string;
  org_id: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  /** RFC 8176 `amr` values, space-separated: how the session was proven. */
  amr: ColumnType<string, string | undefined, string>;
  /** When the session last proved a second factor (step-up). */
  mfa_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** Waiting for a second factor or an enrolment: never a credential. */
  pending: ColumnType<
    'second_factor' | 'enrol' | null,
    'second_factor' | 'enrol' | null | undefined,
    'second_factor' | 'enrol' | null
  >;
  /** The org whose single sign-on opened the session; null for every other sign-in method. */
  sso_org_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface TotpFactorsTable {
  user_id: string;
  secret: string;
  created_at: Timestamp;
  confirmed_at: Timestamp | null;
  last_step: ColumnType<number, number | undefined, number>;
}

export interface RecoveryCodesTable {
  id: string;
  user_id: string;
  code_hash: string;
  created_at: Timestamp;
  used_at: Timestamp | null;
}

export interface PasskeysTable {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  /** bigint: read as a string. */
  counter: ColumnType<string, number | string | undefined, number | string>;
  transports: ColumnType<string, string | undefined, string>;
  name: string;
  backed_up: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
}

export interface MagicLinksTable {
  token_hash: string;
  email: string;
  return_to: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  consumed_at: Timestamp | null;
  /** SHA-256 of the cookie of the browser that asked for the link (null: asked without one). */
  browser_hash: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Single-use links that prove a sign-up's address (hashed, 24 h). */
export interface EmailVerificationsTable {
  token_hash: string;
  user_id: string;
  /** The address the link was sent to: it proves nothing once the account's email changed. */
  email: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  consumed_at: Timestamp | null;
}

/** Single-use links to set a new password (only the hash is stored). */
export interface PasswordResetsTable {
  token_hash: string;
  user_id: string;
  /** The address the link was sent to: it proves nothing once the account's email changed. */
  email: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  consumed_at: Timestamp | null;
}

/** Single-use links that prove a new address before it replaces the account's email. */
export interface EmailChangesTable {
  token_hash: string;
  user_id: string;
  old_email: string;
  new_email: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  consumed_at: Timestamp | null;
}

/** Browsers that signed in to an account before (SHA-256 of their device cookie). */
export interface TrustedDevicesTable {
  user_id: string;
  device_hash: string;
  created_at: Timestamp;
  last_used_at: Timestamp;
  expires_at: Timestamp;
}

export interface SetupTokensTable {
  token_hash: string;
  created_at: Timestamp;
}

export type IdentityProvider = 'github' | 'google';

export interface IdentitiesTable {
  id: string;
  provider: IdentityProvider;
  /** The provider's stable id for the account (GitHub's numeric id, Google's `sub`). */
  subject: string;
  user_id: string;
  email: string | null;
  email_verified: boolean;
  created_at: Timestamp;
}

export interface InstanceSettingsTable {
  name: string;
  value: string;
  updated_at: Timestamp;
  updated_by: string | null;
}

export type WaitlistStatus = 'pending' | 'approved' | 'denied';

export interface WaitlistTable {
  id: string;
  email: string;
  name: string | null;
  via: string;
  status: WaitlistStatus;
  created_at: Timestamp;
  decided_at: Timestamp | null;
  decided_by: string | null;
  /** SHA-256 of the approval link's token; set while an approval is outstanding. */
  token_hash: string | null;
  expires_at: Timestamp | null;
  used_at: Timestamp | null;
}

export type User = Selectable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
