import assert from 'node:assert/strict';
import type { Client, TestServer } from '../helpers/harness.js';

let n = 0;
/** A domain no other test uses (a verified domain belongs to one org on the whole instance). */
export function uniqueDomain(tag = 'acme'): string {
  return `${tag}-${process.pid}-${Date.now().toString(36)}-${++n}.test`;
}

export interface SsoOrg {
  owner: Client;
  orgId: string;
  slug: string;
  domain: string;
  ownerEmail: string;
}

/** An org whose owner signed up with a password at `domain`, the domain added and verified. */
export async function orgWithDomain(t: TestServer, domain = uniqueDomain()): Promise<SsoOrg> {
  const owner = t.client();
  const ownerEmail = `boss@${domain}`;
  const s = await owner.signup({ email: ownerEmail });
  const orgId = s.org.id;
  const add = await owner.post('/api/v1/org/sso/domains', { domain }, orgId);
  assert.equal(add.statusCode, 201, add.body);
  const v = await owner.post(`/api/v1/org/sso/domains/${domain}/verify`, undefined, orgId);
  assert.equal(v.statusCode, 200, v.body);
  return { owner, orgId, slug: s.org.slug, domain, ownerEmail };
}

/** Creates a connection, tests it and enables it; returns its API shape. */
export async function enabledConnection(o: SsoOrg, body: Record<string, unknown>) {
  const c = await o.owner.post('/api/v1/org/sso/connections', body, o.orgId);
  assert.equal(c.statusCode, 201, c.body);
  const id = c.json().id as string;
  const test = await o.owner.post(`/api/v1/org/sso/connections/${id}/test`, undefined, o.orgId);
  assert.equal(test.statusCode, 200, test.body);
  assert.equal(test.json().test.result, 'pass', test.body);
  const on = await o.owner.patch(`/api/v1/org/sso/connections/${id}`, { enabled: true }, o.orgId);
  assert.equal(on.statusCode, 200, on.body);
  return on.json();
}

/** The stable code an SSO page names (`data-code`), or null. */
export function pageCode(body: string): string | null {
  return /data-code="([a-z_]+)"/.exec(body)?.[1] ?? null;
}

export async function auditActions(t: TestServer, orgId: string): Promise<string[]> {
  const rows = await t.deps.db
    .selectFrom('audit_events')
    .select('action')
    .where('org_id', '=', orgId)
    .orderBy('id')
    .execute();
  return rows.map((r) => r.action);
}
