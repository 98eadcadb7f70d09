/** Table types of API tokens, their daily usage, and the revocation log. */
import type { ColumnType } from 'kysely';
import type { Timestamp } from './columns.js';
import type { Role } from './orgs.js';

export type ApiTokenKind = 'pat' | 'svc' | 'org' | 'svc_agent';

export interface ApiTokensTable {
  id: string;
  kind: ApiTokenKind;
  token_hash: string;
  prefix: string;
  name: string | null;
  /** JSON array of scope strings; null = everything the holder's role allows. */
  scopes: ColumnType<string[] | null, string | null, string | null>;
  user_id: string | null;
  org_id: string | null;
  role: Role | null;
  created_by: string;
  created_by_user: string | null;
  created_at: Timestamp;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
  revoked_reason: string | null;
  /** The API token that minted this one (revoked with it; bounds it). */
  parent_token_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** The OAuth access token that minted this one (revoked with it; bounds it). */
  parent_oauth_token_id: ColumnType<string | null, string | null | undefined, string | null>;
}

/** Requests per API token per UTC day. */
export interface ApiTokenUsageTable {
  token_id: string;
  /** `YYYY-MM-DD` (UTC). */
  day: ColumnType<string, string, string>;
  requests: ColumnType<string | number, number, number>;
}

export interface RevocationEventsTable {
  id: ColumnType<string, never, never>;
  kind: 'token' | 'user' | 'org';
  value: string;
  created_at: Timestamp;
}
