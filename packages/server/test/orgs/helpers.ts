import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import type { Role } from '../../src/orgs/roles.js';
import {
  type Client,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  type TestServer,
  tokenFrom,
  uniqueEmail,
} from '../helpers/harness.js';

export interface Person {
  client: Client;
  id: string;
  email: string;
}

/** An org with one signed-in person per role; `people.owner` created it (it is their personal org). */
export interface Team {
  org: { id: string; slug: string };
  people: Record<Role, Person>;
}

export interface AuditEvent {
  id: string;
  org_id: string | null;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: string;
  data: Record<string, unknown>;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** An invitation as `GET /api/v1/org/invitations` lists it. */
export interface Invitation {
  id: string;
  email: string;
  role: string;
  status: string;
  invited_by: string | null;
  created_at: string;
  expires_at: string;
  email_sent?: boolean;
}

/** The org's pending invitations, newest first, as `c` sees them. */
export async function pendingInvitations(c: Client, org: string): Promise<Invitation[]> {
  const res = await c.get('/api/v1/org/invitations?limit=500', org);
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as Page<Invitation>).data;
}

/** `c` accepts the invitation with this token through the API. */
export function acceptInvitation(c: Client, token: string): Promise<LightMyRequestResponse> {
  return c.post('/api/v1/invitations/accept', { token });
}

/** Asserts an RFC 9457 problem with this status and stable code. */
export function assertProblem(res: LightMyRequestResponse, status: number, code: string, what = ''): void {
  assert.equal(res.statusCode, status, `${what} ${res.body}`);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
  assert.equal(res.json().code, code, what);
}

/** Invites `email` as `role` through the API and returns the token from the mailed link. */
export async function inviteToken(
  t: TestServer,
  inviter: Client,
  orgId: string,
  email: string,
  role: Role,
): Promise<{ id: string; token: string }> {
  const res = await inviter.post('/api/v1/org/invitations', { email, role }, orgId);
  assert.equal(res.statusCode, 201, res.body);
  const token = tokenFrom(linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/invite`));
  return { id: res.json().id, token };
}

/** A new person who signs up and joins `orgId` as `role` by a real invitation from `inviter`. */
export async function join(
  t: TestServer,
  inviter: Client,
  orgId: string,
  role: Role,
  name: string = role,
): Promise<Person> {
  const email = uniqueEmail(role);
  const { token } = await inviteToken(t, inviter, orgId, email, role);
  const client = t.client();
  const { user } = await client.signup({ email, name });
  const acc = await client.post('/api/v1/invitations/accept', { token });
  assert.equal(acc.statusCode, 200, acc.body);
  return { client, id: user.id, email };
}

/** A fresh person with their own personal org and no place in anyone else's. */
export async function stranger(
  t: TestServer,
  name = 'Stranger',
): Promise<Person & { org: { id: string; slug: string } }> {
  const client = t.client();
  const { user, org } = await client.signup({ name });
  return { client, id: user.id, email: user.email, org };
}

export async function team(t: TestServer): Promise<Team> {
  const owner = await stranger(t, 'Owner');
  const people = { owner } as Partial<Record<Role, Person>> as Record<Role, Person>;
  for (const role of ['admin', 'member', 'billing'] as const)
    people[role] = await join(t, owner.client, owner.org.id, role);
  return { org: owner.org, people };
}

/** One page of the org's audit log as `c` sees it. */
export async function auditPage(c: Client, org: string, query = ''): Promise<Page<AuditEvent>> {
  const res = await c.get(`/api/v1/audit${query ? `?${query}` : ''}`, org);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as Page<AuditEvent>;
}

/** Follows next_cursor to the end; `query` may hold filters and a limit. */
export async function allPages<T>(c: Client, path: string, org: string, query = ''): Promise<T[][]> {
  const pages: T[][] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const params = new URLSearchParams(query);
    if (cursor) params.set('cursor', cursor);
    const qs = params.toString();
    const res = await c.get(`${path}${qs ? `?${qs}` : ''}`, org);
    assert.equal(res.statusCode, 200, res.body);
    const p = res.json() as Page<T>;
    pages.push(p.data);
    cursor = p.next_cursor;
    if (!cursor) return pages;
  }
  throw new Error(`${path}: more than 100 pages`);
}

/** Audit rows straight from the database (for orgs that no longer exist, or to see everything). */
export async function auditRows(t: TestServer, orgId: string) {
  return t.deps.db.selectFrom('audit_events').selectAll().where('org_id', '=', orgId).execute();
}

/** Every member's role, by user id, as `c` sees the member list. */
export async function rolesIn(c: Client, org: string): Promise<Record<string, string>> {
  const res = await c.get('/api/v1/org/members?limit=500', org);
  assert.equal(res.statusCode, 200, res.body);
  return Object.fromEntries(
    (res.json() as Page<{ user_id: string; role: string }>).data.map((m) => [m.user_id, m.role]),
  );
}
