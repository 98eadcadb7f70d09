import assert from 'node:assert/strict';
import { issueSetupLink } from '../../../src/accounts/setup.js';
import {
  type Client,
  DEFAULT_PASSWORD,
  PUBLIC_URL,
  type TestServer,
  tokenFrom,
  uniqueEmail,
} from '../../helpers/harness.js';

export const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

export function postForm(c: Client, url: string, fields: Record<string, string>) {
  return c.req({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form(fields),
  });
}

/**
 * The first owner, made through `/setup` on a fresh install (whatever the policy): an instance
 * admin, signed in. Call it first in a test file, while the database has no account.
 */
export async function firstOwner(t: TestServer): Promise<{ client: Client; email: string; id: string }> {
  const link = await issueSetupLink(t.deps.db, t.deps.clock, PUBLIC_URL);
  assert.ok(link, 'the install is fresh');
  const client = t.client();
  const email = uniqueEmail('operator');
  const res = await postForm(client, '/setup', {
    token: tokenFrom(link),
    email,
    name: 'Operator',
    password: DEFAULT_PASSWORD,
    org_name: 'Operations',
  });
  assert.equal(res.statusCode, 303, res.body);
  const me = (await client.get('/api/v1/me')).json();
  return { client, email, id: me.user.id };
}

export async function setPolicy(admin: Client, policy: 'open' | 'invite-only' | 'waitlist') {
  const res = await admin.req({ method: 'PUT', url: '/api/v1/admin/signup-policy', body: { policy } });
  assert.equal(res.statusCode, 200, res.body);
}

/** Every audit row as one text: what an email must never appear in, in clear. */
export async function auditText(t: TestServer): Promise<string> {
  const rows = await t.deps.db.selectFrom('audit_events').selectAll().execute();
  return JSON.stringify(rows);
}
