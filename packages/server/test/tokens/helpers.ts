import assert from 'node:assert/strict';
import type { Client, TestServer } from '../helpers/harness.js';
import { API_SCOPES } from '../../src/tokens/scopes.js';
import { lastMailTo, linkIn, PUBLIC_URL, tokenFrom, uniqueEmail } from '../helpers/harness.js';

/** Calls the API with a bearer token (no cookie, no Origin). */
export function bearer(
  t: TestServer,
  token: string,
  r: { method?: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; body?: unknown; org?: string; ip?: string },
) {
  return t.app.inject({
    method: r.method ?? 'GET',
    url: r.url,
    headers: { authorization: `Bearer ${token}`, ...(r.org ? { 'x-org-id': r.org } : {}) },
    remoteAddress: r.ip ?? `10.77.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
    ...(r.body !== undefined ? { payload: r.body as object } : {}),
  });
}

/** An org with an owner, plus people holding each other role, all signed in. */
export async function orgWithRoles(t: TestServer) {
  const owner = t.client();
  const { org } = await owner.signup({ name: 'Owner' });
  const people: Record<'admin' | 'member' | 'billing', Client> = {} as never;
  const ids: Record<string, string> = {};
  for (const role of ['admin', 'member', 'billing'] as const) {
    const email = uniqueEmail(role);
    const inv = await owner.post('/api/v1/org/invitations', { email, role }, org.id);
    assert.equal(inv.statusCode, 201, inv.body);
    const token = tokenFrom(linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/invite`));
    const c = t.client();
    const { user } = await c.signup({ email, name: role });
    const acc = await c.post('/api/v1/invitations/accept', { token });
    assert.equal(acc.statusCode, 200, acc.body);
    people[role] = c;
    ids[role] = user.id;
  }
  return { owner, org, ...people, ids };
}

/**
 * Mints a PAT from `c`'s session. With no scopes named, asks for every API scope (a token minted
 * with none gets only `org:read`).
 */
export async function mintPat(c: Client, body: Record<string, unknown> = {}, org?: string) {
  const res = await c.post(
    '/api/v1/tokens',
    body.scopes === undefined && (body.type ?? 'pat') === 'pat' ? { ...body, scopes: [...API_SCOPES] } : body,
    org,
  );
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string; token: string; prefix: string; scopes: string[]; created_by: string };
}
