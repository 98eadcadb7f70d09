import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import {
  type Client,
  followLink,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  readOutbox,
  type TestServer,
  uniqueEmail,
} from '../helpers/harness.js';

let ipCounter = 0;
/** A fresh client address per call, so the per-IP signup limit only bites where a test wants it. */
export function freshIp(): string {
  ipCounter++;
  return `10.${200 + (process.pid % 50)}.${Math.floor(ipCounter / 250) % 250}.${ipCounter % 250}`;
}

export interface SignupBody {
  human_email?: string;
  display_name?: string;
  note_to_human?: string;
  harness?: string;
  [k: string]: unknown;
}

/** `POST /api/v1/agent-signup` the way an agent sends it: no cookie, no Origin. */
export function signupRequest(t: TestServer, body: unknown, ip = freshIp()): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/agent-signup',
    payload: body as object,
    remoteAddress: ip,
  });
}

export interface Signed {
  api_key: string;
  org_id: string;
  agent_id: string;
  status: string;
  email_address: null;
  human: string;
}

/** Signs an agent up for a fresh (or the given) human and returns the 201 body. */
export async function signupAgent(t: TestServer, body: SignupBody = {}, ip?: string): Promise<Signed> {
  const human = body.human_email ?? uniqueEmail('human');
  const res = await signupRequest(
    t,
    { display_name: 'Build Bot', harness: 'claude-code', ...body, human_email: human },
    ip,
  );
  assert.equal(res.statusCode, 201, res.body);
  return { ...(res.json() as Omit<Signed, 'human'>), human: human.trim().toLowerCase() };
}

/** The 6-digit code from the newest signup email to `to`. */
export async function codeFor(t: TestServer, to: string): Promise<string> {
  const mail = (await readOutbox(t.outboxDir))
    .filter((m) => m.to === to && /verify it/.test(m.subject))
    .at(-1);
  if (!mail) throw new Error(`no signup mail to ${to}`);
  const m = /verification code[^\n]*\n\s*\n\s+(\d{6})\s*\n/.exec(mail.text);
  if (!m) throw new Error(`no code in: ${mail.text}`);
  return m[1]!;
}

/** A call with the agent's key (bearer, no cookie, no Origin). */
export function asAgent(
  t: TestServer,
  key: string,
  r: { method?: 'GET' | 'POST' | 'DELETE'; url: string; body?: unknown; org?: string },
): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: r.method ?? 'GET',
    url: r.url,
    headers: { authorization: `Bearer ${key}`, ...(r.org ? { 'x-org-id': r.org } : {}) },
    remoteAddress: freshIp(),
    ...(r.body !== undefined ? { payload: r.body as object } : {}),
  });
}

export function verify(t: TestServer, key: string, code: string) {
  return asAgent(t, key, {
    method: 'POST',
    url: '/api/v1/agent-signup/verify',
    body: { verification_code: code },
  });
}

export function status(t: TestServer, key: string) {
  return asAgent(t, key, { url: '/api/v1/agent-signup/status' });
}

/** Signs `email` in by a real magic link (creating nothing: the account must exist or is made). */
export async function signInByMagicLink(t: TestServer, email: string, returnTo?: string): Promise<Client> {
  const c = t.client();
  const res = await c.post('/api/auth/magic-link', { email, ...(returnTo ? { return_to: returnTo } : {}) });
  assert.equal(res.statusCode, 202, res.body);
  const link = linkIn(
    (await lastMailTo(t.outboxDir, email)).text,
    `${PUBLIC_URL}/api/auth/magic-link/callback`,
  );
  const back = await followLink(c, link);
  assert.equal(back.statusCode, 303, back.body);
  assert.ok(c.cookie, 'signed in');
  return c;
}

/** Agent rows straight from the database (the fuzz fingerprint does not know this table). */
export async function agentCount(t: TestServer): Promise<number> {
  const r = await t.deps.db
    .selectFrom('agents')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function auditOf(t: TestServer, agentId: string) {
  return t.deps.db
    .selectFrom('audit_events')
    .select(['actor', 'action', 'target', 'org_id', 'data'])
    .where((eb) => eb.or([eb('actor', '=', `agent:${agentId}`), eb('target', '=', `agent:${agentId}`)]))
    .orderBy('id')
    .execute();
}

export const FREE_SCOPES = ['mcp:read', 'mcp:write', 'mcp:run', 'mcp:clone:write', 'mcp:trace:read'];
export const UNCLAIMED_SCOPES = ['mcp:read', 'mcp:run'];
