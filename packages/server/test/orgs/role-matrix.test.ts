import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Permission } from '../../src/auth/permissions.js';
import { ROLES, type Role, roleAllows } from '../../src/orgs/roles.js';
import { type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import { authorizeUrl, consent, REDIRECT, register } from '../oauth/helpers.js';
import { assertProblem, auditRows, inviteToken, join, stranger, type Team, team } from './helpers.js';

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What one attempt sends; built fresh per caller so that allowed mutations do not interfere. */
interface Attempt {
  url: string;
  body?: unknown;
}

interface Row {
  method: Method;
  path: string;
  /** The permission the route needs, as named in src/orgs/roles.ts. */
  permission: Permission;
  /** Exactly the roles that may; every other role gets 403 forbidden. */
  allow: readonly Role[];
  /** The status an allowed caller gets. */
  ok: number;
  attempt: (tm: Team) => Promise<Attempt>;
}

const fixed = (url: string, body?: unknown) => async (): Promise<Attempt> => ({
  url,
  ...(body !== undefined ? { body } : {}),
});

/** A webhook endpoint of the org, made by its owner; with `*`, its own creation is its first delivery. */
const freshWebhook = async (tm: Team): Promise<string> => {
  const res = await tm.people.owner.client.post(
    '/api/v1/org/webhooks',
    { url: 'https://hooks.example.com/latchkey', events: ['*'] },
    tm.org.id,
  );
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id as string;
};
const freshDelivery = async (tm: Team): Promise<[string, string]> => {
  const id = await freshWebhook(tm);
  const res = await tm.people.owner.client.get(`/api/v1/org/webhooks/${id}/deliveries`, tm.org.id);
  const first = (res.json().data as { id: string }[])[0];
  assert.ok(first, res.body);
  return [id, first.id];
};

const freshMember = async (tm: Team) => join(t, tm.people.owner.client, tm.org.id, 'member', 'Target');
const freshInvitation = async (tm: Team) =>
  inviteToken(t, tm.people.owner.client, tm.org.id, uniqueEmail('matrix'), 'member');

const OWNER_ADMIN = ['owner', 'admin'] as const;
/** An id no row has. */
const NO_ID = '00000000-0000-4000-8000-000000000000';

/** An OAuth app of the org, made by its owner. */
const freshApp = async (tm: Team) => {
  const res = await tm.people.owner.client.post(
    '/api/v1/oauth/clients',
    { name: 'Matrix app', type: 'confidential', redirect_uris: [REDIRECT] },
    tm.org.id,
  );
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string };
};

/** A grant the owner gave a registered client on Latchkey's own API, in the org. */
const freshGrant = async (tm: Team) => {
  const c = await register(t);
  const back = await consent(
    tm.people.owner.client,
    authorizeUrl({ clientId: c.client_id, resource: 'http://localhost:8484/api', scope: 'org:read' }),
    { org: tm.org.id },
  );
  assert.ok(back.searchParams.get('code'), back.href);
  const list = await tm.people.owner.client.get('/api/v1/me/grants');
  const grant = (list.json() as { data: { id: string; client_id: string }[] }).data.find(
    (g) => g.client_id === c.client_id,
  );
  assert.ok(grant);
  return grant;
};

/** The org's SCIM secret, (re)issued by its owner. */
const freshScimSecret = async (tm: Team) => {
  const res = await tm.people.owner.client.post('/api/v1/org/scim/token', undefined, tm.org.id);
  assert.equal(res.statusCode, 201, res.body);
  return (res.json() as { token: string }).token;
};

/** A group the org's identity provider pushed over SCIM. */
const freshScimGroup = async (tm: Team) => {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/scim/v2/Groups',
    headers: { authorization: `Bearer ${await freshScimSecret(tm)}` },
    payload: {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: `Matrix ${uniqueEmail()}`,
    },
  });
  assert.equal(res.statusCode, 201, res.body);
  return (res.json() as { id: string }).id;
};

/** The spec: every org-scoped route, who may call it, and what success looks like. */
const MATRIX: readonly Row[] = [
  // Agents that signed themselves up into this org's care (src/agents/org-routes.ts). Deciding on
  // one agent (approve, deny, revoke) is checked against that agent's own org — an agent never
  // belongs to an existing team — and is covered in test/agents/decisions.test.ts.
  {
    method: 'GET',
    path: '/api/v1/org/agents',
    permission: 'tokens:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: fixed('/api/v1/org/agents'),
  },
  // SSO settings (src/sso/*-routes.ts). Routes on one connection or domain are driven with an id
  // that does not exist: the role gate answers before the lookup, so allowed roles get 404.
  ...(
    [
      ['GET', '/api/v1/org/sso', 200, async () => ({ url: '/api/v1/org/sso' })],
      [
        'PATCH',
        '/api/v1/org/sso',
        200,
        async () => ({ url: '/api/v1/org/sso', body: { sso_enforced: false } }),
      ],
      ['GET', '/api/v1/org/sso/connections', 200, async () => ({ url: '/api/v1/org/sso/connections' })],
      [
        'POST',
        '/api/v1/org/sso/connections',
        201,
        async () => ({
          url: '/api/v1/org/sso/connections',
          body: {
            kind: 'oidc',
            name: 'Matrix IdP',
            oidc_issuer: 'https://idp.example.com',
            oidc_client_id: 'matrix',
            oidc_client_secret: 'matrix-client-secret-0123456789',
          },
        }),
      ],
      [
        'GET',
        '/api/v1/org/sso/connections/:id',
        404,
        async () => ({ url: `/api/v1/org/sso/connections/${NO_ID}` }),
      ],
      [
        'PATCH',
        '/api/v1/org/sso/connections/:id',
        404,
        async () => ({ url: `/api/v1/org/sso/connections/${NO_ID}`, body: { name: 'x' } }),
      ],
      [
        'DELETE',
        '/api/v1/org/sso/connections/:id',
        404,
        async () => ({ url: `/api/v1/org/sso/connections/${NO_ID}` }),
      ],
      [
        'POST',
        '/api/v1/org/sso/connections/:id/test',
        404,
        async () => ({ url: `/api/v1/org/sso/connections/${NO_ID}/test` }),
      ],
      ['GET', '/api/v1/org/sso/domains', 200, async () => ({ url: '/api/v1/org/sso/domains' })],
      [
        'POST',
        '/api/v1/org/sso/domains',
        201,
        async () => ({
          url: '/api/v1/org/sso/domains',
          body: { domain: `m${Math.random().toString(36).slice(2, 10)}.example.com` },
        }),
      ],
      [
        'GET',
        '/api/v1/org/sso/domains/:domain',
        404,
        async () => ({ url: '/api/v1/org/sso/domains/nothing-here.example.com' }),
      ],
      [
        'POST',
        '/api/v1/org/sso/domains/:domain/verify',
        404,
        async () => ({ url: '/api/v1/org/sso/domains/nothing-here.example.com/verify' }),
      ],
      [
        'DELETE',
        '/api/v1/org/sso/domains/:domain',
        404,
        async () => ({ url: '/api/v1/org/sso/domains/nothing-here.example.com' }),
      ],
    ] as const
  ).map(([method, path, ok, attempt]): Row => ({
    method,
    path,
    permission: 'org:update',
    allow: OWNER_ADMIN,
    ok,
    attempt,
  })),
  // SCIM: the org's secret and its groups' role mappings (src/scim/admin-routes.ts).
  {
    method: 'GET',
    path: '/api/v1/org/scim',
    permission: 'members:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: fixed('/api/v1/org/scim'),
  },
  {
    method: 'POST',
    path: '/api/v1/org/scim/token',
    permission: 'members:manage',
    allow: OWNER_ADMIN,
    ok: 201,
    attempt: fixed('/api/v1/org/scim/token'),
  },
  {
    method: 'DELETE',
    path: '/api/v1/org/scim/token',
    permission: 'members:manage',
    allow: OWNER_ADMIN,
    ok: 204,
    attempt: async (tm) => {
      await freshScimSecret(tm);
      return { url: '/api/v1/org/scim/token' };
    },
  },
  {
    method: 'GET',
    path: '/api/v1/org/scim/groups',
    permission: 'members:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: fixed('/api/v1/org/scim/groups'),
  },
  {
    method: 'PATCH',
    path: '/api/v1/org/scim/groups/:id',
    permission: 'members:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: async (tm) => ({
      url: `/api/v1/org/scim/groups/${await freshScimGroup(tm)}`,
      body: { role: 'billing' },
    }),
  },
  {
    method: 'GET',
    path: '/api/v1/org',
    permission: 'org:read',
    allow: ROLES,
    ok: 200,
    attempt: fixed('/api/v1/org'),
  },
  {
    method: 'PATCH',
    path: '/api/v1/org',
    permission: 'org:update',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: fixed('/api/v1/org', { name: 'Renamed by matrix' }),
  },
  {
    method: 'DELETE',
    path: '/api/v1/org',
    permission: 'org:delete',
    allow: ['owner'],
    ok: 204,
    attempt: fixed('/api/v1/org'),
  },
  {
    method: 'GET',
    path: '/api/v1/org/members',
    permission: 'members:read',
    allow: ['owner', 'admin', 'member'],
    ok: 200,
    attempt: fixed('/api/v1/org/members'),
  },
  {
    method: 'PATCH',
    path: '/api/v1/org/members/:user_id',
    permission: 'members:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: async (tm) => ({
      url: `/api/v1/org/members/${(await freshMember(tm)).id}`,
      body: { role: 'billing' },
    }),
  },
  {
    // Removing someone else (leaving is allowed to everyone, see members.test.ts).
    method: 'DELETE',
    path: '/api/v1/org/members/:user_id',
    permission: 'members:manage',
    allow: OWNER_ADMIN,
    ok: 204,
    attempt: async (tm) => ({ url: `/api/v1/org/members/${(await freshMember(tm)).id}` }),
  },
  {
    method: 'POST',
    path: '/api/v1/org/invitations',
    permission: 'invitations:manage',
    allow: OWNER_ADMIN,
    ok: 201,
    attempt: async () => ({
      url: '/api/v1/org/invitations',
      body: { email: uniqueEmail('matrix'), role: 'member' },
    }),
  },
  {
    method: 'GET',
    path: '/api/v1/org/invitations',
    permission: 'invitations:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: fixed('/api/v1/org/invitations'),
  },
  {
    method: 'DELETE',
    path: '/api/v1/org/invitations/:id',
    permission: 'invitations:manage',
    allow: OWNER_ADMIN,
    ok: 204,
    attempt: async (tm) => ({ url: `/api/v1/org/invitations/${(await freshInvitation(tm)).id}` }),
  },
  {
    method: 'POST',
    path: '/api/v1/org/invitations/:id/resend',
    permission: 'invitations:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: async (tm) => ({ url: `/api/v1/org/invitations/${(await freshInvitation(tm)).id}/resend` }),
  },
  {
    method: 'POST',
    path: '/api/v1/org/transfer-ownership',
    permission: 'org:transfer',
    allow: ['owner'],
    ok: 200,
    attempt: async (tm) => ({
      url: '/api/v1/org/transfer-ownership',
      body: { user_id: (await freshMember(tm)).id },
    }),
  },
  {
    method: 'GET',
    path: '/api/v1/audit',
    permission: 'audit:read',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: fixed('/api/v1/audit'),
  },
  {
    method: 'GET',
    path: '/api/v1/org/tokens',
    permission: 'tokens:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: fixed('/api/v1/org/tokens'),
  },
  {
    method: 'POST',
    path: '/api/v1/org/tokens',
    permission: 'tokens:manage',
    allow: OWNER_ADMIN,
    ok: 201,
    attempt: fixed('/api/v1/org/tokens', { name: 'matrix key' }),
  },
  {
    method: 'DELETE',
    path: '/api/v1/org/tokens/:id',
    permission: 'tokens:manage',
    allow: OWNER_ADMIN,
    ok: 204,
    attempt: async (tm) => {
      const key = await tm.people.owner.client.post('/api/v1/org/tokens', { name: 'to revoke' }, tm.org.id);
      assert.equal(key.statusCode, 201, key.body);
      return { url: `/api/v1/org/tokens/${key.json().id}` };
    },
  },
  {
    method: 'POST',
    path: '/api/v1/org/tokens/:id/rotate',
    permission: 'tokens:manage',
    allow: OWNER_ADMIN,
    ok: 201,
    attempt: async (tm) => {
      const key = await tm.people.owner.client.post('/api/v1/org/tokens', { name: 'to rotate' }, tm.org.id);
      assert.equal(key.statusCode, 201, key.body);
      return { url: `/api/v1/org/tokens/${key.json().id}/rotate` };
    },
  },
  {
    method: 'GET',
    path: '/api/v1/org/tokens/:id/usage',
    permission: 'tokens:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: async (tm) => {
      const key = await tm.people.owner.client.post('/api/v1/org/tokens', { name: 'usage' }, tm.org.id);
      assert.equal(key.statusCode, 201, key.body);
      return { url: `/api/v1/org/tokens/${key.json().id}/usage` };
    },
  },
  // Whether the org requires a second factor: every member may read it, owners and admins set it.
  {
    method: 'GET',
    path: '/api/v1/org/mfa',
    permission: 'org:read',
    allow: ROLES,
    ok: 200,
    attempt: fixed('/api/v1/org/mfa'),
  },
  {
    method: 'PUT',
    path: '/api/v1/org/mfa',
    permission: 'org:update',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: fixed('/api/v1/org/mfa', { mfa_required: false }),
  },
  // Clients the org approved for its members (they skip consent for ordinary scopes).
  {
    method: 'GET',
    path: '/api/v1/org/oauth/approved-clients',
    permission: 'oauth:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: fixed('/api/v1/org/oauth/approved-clients'),
  },
  {
    method: 'POST',
    path: '/api/v1/org/oauth/approved-clients',
    permission: 'oauth:manage',
    allow: OWNER_ADMIN,
    ok: 201,
    attempt: async () => ({
      url: '/api/v1/org/oauth/approved-clients',
      body: { client_id: (await register(t)).client_id },
    }),
  },
  {
    method: 'DELETE',
    path: '/api/v1/org/oauth/approved-clients/:id',
    permission: 'oauth:manage',
    allow: OWNER_ADMIN,
    ok: 204,
    attempt: async (tm) => {
      const c = await register(t);
      const res = await tm.people.owner.client.post(
        '/api/v1/org/oauth/approved-clients',
        { client_id: c.client_id },
        tm.org.id,
      );
      assert.equal(res.statusCode, 201, res.body);
      return { url: `/api/v1/org/oauth/approved-clients/${res.json().id}` };
    },
  },
  {
    method: 'GET',
    path: '/api/v1/org/grants',
    permission: 'oauth:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: fixed('/api/v1/org/grants'),
  },
  {
    method: 'DELETE',
    path: '/api/v1/org/grants/:id',
    permission: 'oauth:manage',
    allow: OWNER_ADMIN,
    ok: 204,
    attempt: async (tm) => ({ url: `/api/v1/org/grants/${(await freshGrant(tm)).id}` }),
  },
  {
    method: 'GET',
    path: '/api/v1/oauth/clients',
    permission: 'oauth:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: fixed('/api/v1/oauth/clients'),
  },
  {
    method: 'POST',
    path: '/api/v1/oauth/clients',
    permission: 'oauth:manage',
    allow: OWNER_ADMIN,
    ok: 201,
    attempt: fixed('/api/v1/oauth/clients', {
      name: 'matrix app',
      type: 'public',
      redirect_uris: [REDIRECT],
    }),
  },
  {
    method: 'GET',
    path: '/api/v1/oauth/clients/:id',
    permission: 'oauth:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: async (tm) => ({ url: `/api/v1/oauth/clients/${(await freshApp(tm)).id}` }),
  },
  {
    method: 'PATCH',
    path: '/api/v1/oauth/clients/:id',
    permission: 'oauth:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: async (tm) => ({
      url: `/api/v1/oauth/clients/${(await freshApp(tm)).id}`,
      body: { name: 'Renamed' },
    }),
  },
  {
    method: 'POST',
    path: '/api/v1/oauth/clients/:id/secret',
    permission: 'oauth:manage',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: async (tm) => ({ url: `/api/v1/oauth/clients/${(await freshApp(tm)).id}/secret` }),
  },
  {
    method: 'DELETE',
    path: '/api/v1/oauth/clients/:id',
    permission: 'oauth:manage',
    allow: OWNER_ADMIN,
    ok: 204,
    attempt: async (tm) => ({ url: `/api/v1/oauth/clients/${(await freshApp(tm)).id}` }),
  },
  // Webhook endpoints receive every audit event of the org: org:update and audit:read both.
  {
    method: 'GET',
    path: '/api/v1/org/webhooks',
    permission: 'org:update',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: fixed('/api/v1/org/webhooks'),
  },
  {
    method: 'POST',
    path: '/api/v1/org/webhooks',
    permission: 'org:update',
    allow: OWNER_ADMIN,
    ok: 201,
    attempt: fixed('/api/v1/org/webhooks', { url: 'https://hooks.example.com/in', events: ['member.*'] }),
  },
  {
    method: 'GET',
    path: '/api/v1/org/webhooks/:id',
    permission: 'org:update',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: async (tm) => ({ url: `/api/v1/org/webhooks/${await freshWebhook(tm)}` }),
  },
  {
    method: 'PATCH',
    path: '/api/v1/org/webhooks/:id',
    permission: 'org:update',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: async (tm) => ({
      url: `/api/v1/org/webhooks/${await freshWebhook(tm)}`,
      body: { description: 'Renamed' },
    }),
  },
  {
    method: 'POST',
    path: '/api/v1/org/webhooks/:id/rotate-secret',
    permission: 'org:update',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: async (tm) => ({ url: `/api/v1/org/webhooks/${await freshWebhook(tm)}/rotate-secret` }),
  },
  {
    method: 'DELETE',
    path: '/api/v1/org/webhooks/:id',
    permission: 'org:update',
    allow: OWNER_ADMIN,
    ok: 204,
    attempt: async (tm) => ({ url: `/api/v1/org/webhooks/${await freshWebhook(tm)}` }),
  },
  {
    method: 'GET',
    path: '/api/v1/org/webhooks/:id/deliveries',
    permission: 'org:update',
    allow: OWNER_ADMIN,
    ok: 200,
    attempt: async (tm) => ({ url: `/api/v1/org/webhooks/${await freshWebhook(tm)}/deliveries` }),
  },
  {
    method: 'POST',
    path: '/api/v1/org/webhooks/:id/deliveries/:delivery_id/resend',
    permission: 'org:update',
    allow: OWNER_ADMIN,
    ok: 202,
    attempt: async (tm) => {
      const [id, delivery] = await freshDelivery(tm);
      return { url: `/api/v1/org/webhooks/${id}/deliveries/${delivery}/resend` };
    },
  },
];

/** Denied callers first, the owner last: an allowed owner may delete or give away the org. */
const CALLERS = ['outsider', 'billing', 'member', 'admin', 'owner'] as const;

describe('role matrix', () => {
  it('agrees with src/orgs/roles.ts: each row allows exactly the roles that hold its permission', () => {
    for (const row of MATRIX) {
      const holders = ROLES.filter((r) => roleAllows(r, row.permission));
      assert.deepEqual([...row.allow].sort(), [...holders].sort(), `${row.method} ${row.path}`);
    }
  });

  it('covers every org-scoped route the server registers, and only those', async () => {
    const spec = (await t.app.inject({ url: '/api/openapi.json' })).json() as {
      paths: Record<string, object>;
    };
    const orgScoped = Object.entries(spec.paths)
      .filter(
        ([path]) =>
          path === '/api/v1/audit' ||
          path === '/api/v1/org' ||
          path.startsWith('/api/v1/org/') ||
          path.startsWith('/api/v1/oauth/clients'),
      )
      // Per-agent decisions: authorised by the agent's org, see the MATRIX comment.
      .filter(([path]) => !path.startsWith('/api/v1/org/agents/'))
      // Leaving an org (one's own membership, every role): covered in members.test.ts.
      .filter(([path]) => path !== '/api/v1/org/membership')
      .flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
          .map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      );
    assert.deepEqual(MATRIX.map((r) => `${r.method} ${r.path}`).sort(), orgScoped.sort());
  });

  for (const row of MATRIX) {
    it(`${row.method} ${row.path}: ${row.allow.join(', ')} may; others get forbidden, outsiders org_forbidden`, async () => {
      const tm = await team(t);
      const outsider = await stranger(t);
      const denied: string[] = [];
      const before = new Set((await auditRows(t, tm.org.id)).map((e) => e.id));
      for (const caller of CALLERS) {
        const who = caller === 'outsider' ? outsider : tm.people[caller];
        const a = await row.attempt(tm);
        const res = await who.client.req({ method: row.method, url: a.url, body: a.body, org: tm.org.id });
        const what = `${row.method} ${row.path} as ${caller}`;
        if (caller === 'outsider') {
          assertProblem(res, 403, 'org_forbidden', what);
          denied.push(`user:${who.id}`);
        } else if (row.allow.includes(caller)) {
          assert.equal(res.statusCode, row.ok, `${what}: ${res.body}`);
        } else {
          assertProblem(res, 403, 'forbidden', what);
          denied.push(`user:${who.id}`);
        }
      }
      // A refused request changes nothing, so it leaves no trace in the org's audit log.
      const traces = (await auditRows(t, tm.org.id)).filter(
        (e) => !before.has(e.id) && denied.includes(e.actor),
      );
      assert.deepEqual(
        traces.map((e) => e.action),
        [],
        `${row.method} ${row.path}: refused callers left audit events`,
      );
    });
  }
});
