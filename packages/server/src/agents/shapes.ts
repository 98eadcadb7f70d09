import { Type } from 'typebox';
import { Timestamp } from '../http/shapes.js';
import type { AgentRow } from './queries.js';
import { type AgentRights, restrictionsShape } from './rights.js';

/** Response shapes of the agent API. Responses are serialised from these, never from rows. */
export const Restrictions = Type.Object({
  allowed_scopes: Type.Array(Type.String()),
  blocked_scopes: Type.Array(Type.String()),
  mcp_calls_per_day: Type.Integer(),
  guard_runs_per_month: Type.Integer(),
  /** Every limit of the plan (the two above among them), with its period. */
  limits: Type.Record(
    Type.String(),
    Type.Object({
      limit: Type.Integer(),
      period: Type.Union([Type.Literal('day'), Type.Literal('month')]),
    }),
  ),
});

export const AgentShape = Type.Object({
  id: Type.String(),
  org_id: Type.String(),
  /** In lists across orgs (`GET /api/v1/agents`): the org's name. */
  org_name: Type.Optional(Type.String()),
  display_name: Type.String(),
  note_to_human: Type.Union([Type.String(), Type.Null()]),
  harness: Type.Union([Type.String(), Type.Null()]),
  human_email: Type.String(),
  status: Type.Union([
    Type.Literal('unclaimed'),
    Type.Literal('claimed'),
    Type.Literal('denied'),
    Type.Literal('revoked'),
  ]),
  key_prefix: Type.String(),
  created_at: Timestamp,
  claimed_at: Type.Union([Timestamp, Type.Null()]),
  claimed_by: Type.Union([Type.String(), Type.Null()]),
  restrictions: Restrictions,
});

export function agentShape(a: AgentRow, rights: AgentRights) {
  return {
    id: a.id,
    org_id: a.org_id,
    display_name: a.display_name,
    note_to_human: a.note_to_human,
    harness: a.harness,
    human_email: a.human_email,
    status: a.status,
    key_prefix: a.key_prefix,
    created_at: a.created_at.toISOString(),
    claimed_at: a.claimed_at?.toISOString() ?? null,
    claimed_by: a.claimed_by,
    restrictions: restrictionsShape(rights),
  };
}
