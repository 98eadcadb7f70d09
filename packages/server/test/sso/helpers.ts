import assert from 'node:assert/strict';
import { setTxt } from '../helpers/dns.js';
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

/**
 * An org whose owner signed up with a password at `domain`, the domain added and verified the way
 * a customer does it: the challenge record published in (the test process's) DNS, then checked.
 */
export async function orgWithDomain(t: TestServer, domain = uniqueDomain()): Promise<SsoOrg> {
  const owner = t.client();
  const ownerEmail = `boss@${domain}`;
  const s = await owner.signup({ email: ownerEmail });
  const orgId = s.org.id;
  await verifyDomain(owner, orgId, domain);
  return { owner, orgId, slug: s.org.slug, domain, ownerEmail };
}

/** Adds `domain` to the org (unless it is there), publishes its challenge record and verifies it. */
export async function verifyDomain(c: Client, orgId: string, domain: string): Promise<void> {
  const challenge = await addDomain(c, orgId, domain);
  setTxt(challenge.name, [challenge.value]);
  const v = await c.post(`/api/v1/org/sso/domains/${domain}/verify`, undefined, orgId);
  assert.equal(v.statusCode, 200, v.body);
  assert.equal(v.json().verified, true, v.body);
}

/** Adds `domain` to the org; returns the TXT record the org must publish. */
export async function addDomain(
  c: Client,
  orgId: string,
  domain: string,
): Promise<{ name: string; type: 'TXT'; value: string }> {
  const add = await c.post('/api/v1/org/sso/domains', { domain }, orgId);
  assert.equal(add.statusCode, 201, add.body);
  return add.json().challenge;
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
