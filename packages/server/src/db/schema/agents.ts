/** Table types of agents: signups and claims, operator blocks, refused attempts, org suspensions. */
import type { ColumnType } from 'kysely';
import type { Timestamp } from './columns.js';

export type AgentStatus = 'unclaimed' | 'claimed' | 'denied' | 'revoked';

export interface AgentsTable {
  id: string;
  org_id: string;
  token_id: string;
  display_name: string;
  note_to_human: string | null;
  harness: string | null;
  /** The human overseer, normalised. */
  human_email: string;
  status: AgentStatus;
  /** SHA-256 of the 6-digit code, salted with the agent id; null once claimed or closed. */
  code_hash: string | null;
  code_expires_at: Timestamp;
  failed_attempts: ColumnType<number, number | undefined, number>;
  claimed_by: string | null;
  created_at: Timestamp;
  claimed_at: Timestamp | null;
  /** When it was denied or revoked. */
  closed_at: Timestamp | null;
}

export type AgentBlockKind = 'ip' | 'email_domain' | 'org';

/** An operator's block on agent signup. */
export interface AgentBlocksTable {
  id: string;
  kind: AgentBlockKind;
  /** A CIDR range, a lowercase email domain or an org id. */
  value: string;
  reason: string | null;
  created_by: string;
  created_at: Timestamp;
}

/** A signup a block refused (the overseer's domain only, never the full address). */
export interface AgentBlockedAttemptsTable {
  id: string;
  block_id: string | null;
  reason: string;
  ip: string;
  email_domain: string;
  org_id: string | null;
  created_at: Timestamp;
}

export interface AgentOrgSuspensionsTable {
  org_id: string;
  reason: string | null;
  created_by: string;
  created_at: Timestamp;
}
