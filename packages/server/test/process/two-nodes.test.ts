// test-backend: external — needs a PostgreSQL and Redis shared by two nodes
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BACKEND, openTestStorage, type TestStorage } from '../helpers/storage.js';
import { MCP_URL, OAUTH_TOML, REDIRECT } from '../oauth/helpers.js';
import { type Child, ensureBuilt, killAll, randomIp, removeDir, spawnServer, tempDir } from './proc.js';

// Revocation is instant on every node: two real server processes share PostgreSQL and Redis; a
// credential revoked on node A is refused by node B on its very next request, although B had it
// cached a moment before.

const external = BACKEND === 'external';
let storage: TestStorage | null = null;
let dir: string;
let a: Child;
let b: Child;

before(async () => {
  if (!external) return;
  ensureBuilt();
  storage = await openTestStorage();
  dir = tempDir('two-nodes');
  writeFileSync(join(dir, 'latchkey.toml'), OAUTH_TOML);
  const env = {
    LATCHKEY_CONFIG: join(dir, 'latchkey.toml'),
    DATABASE_URL: storage.databaseUrl!,
    REDIS_URL: process.env.REDIS_URL!,
    TRUST_PROXY: 'true',
    LATCHKEY_DATA_DIR: dir,
    LOG_LEVEL: 'warn',
  };
  [a, b] = await Promise.all([spawnServer({ cwd: dir, env }), spawnServer({ cwd: dir, env })]);
  await Promise.all([a.waitReady(), b.waitReady()]);
});
after(async () => {
  await killAll();
  if (storage) await storage.close();
  if (dir) removeDir(dir);
});

function call(
  node: Child,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
) {
  return fetch(`${node.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      'x-forwarded-for': randomIp(),
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.method && init.method !== 'GET' ? { origin: node.url } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
}

async function signedIn(node: Child) {
  const email = `two-nodes-${Date.now()}-${Math.random()}@example.com`;
  const res = await call(node, '/api/auth/signup', {
    method: 'POST',
    body: { email, password: 'a sturdy passphrase 42', name: 'N' },
  });
  assert.equal(res.status, 201);
  const body = (await res.json()) as { org: { id: string } };
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  // Only a proven address may mint tokens: use the link the node mailed to its outbox.
  const { readOutbox } = await import('../helpers/harness.js');
  const mail = (await readOutbox(`${dir}/outbox`)).find((m) => m.to === email);
  const token = /\/verify-email\?token=([A-Za-z0-9_-]+)/.exec(mail?.text ?? '')?.[1];
  assert.ok(token, 'the verification link was mailed');
  const verified = await fetch(`${node.url}/verify-email`, {
    method: 'POST',
    headers: { cookie, origin: node.url, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  assert.equal(verified.status, 200);
  return { cookie, orgId: body.org.id };
}

/** Uses the credential twice on B (so B has it cached), revokes it on A, then B must refuse it. */
async function revokedEverywhere(use: (node: Child) => Promise<Response>, revoke: () => Promise<Response>) {
  assert.equal((await use(b)).status, 200);
  assert.equal((await use(b)).status, 200, 'warm on node B');
  const r = await revoke();
  assert.ok(r.status === 204 || r.status === 200, `revoke answered ${r.status}`);
  assert.equal((await use(b)).status, 401, 'node B refuses it on the very next request');
  assert.equal((await use(a)).status, 401);
}

describe(
  'revocation across two nodes sharing PostgreSQL and Redis',
  { skip: external ? false : 'needs shared PostgreSQL and Redis' },
  () => {
    it('a personal access token revoked on A is refused by B at once', async () => {
      const { cookie } = await signedIn(a);
      const minted = await call(a, '/api/v1/tokens', {
        method: 'POST',
        headers: { cookie },
        body: { name: 'n', scopes: ['account:read'] },
      });
      assert.equal(minted.status, 201);
      const pat = (await minted.json()) as { id: string; token: string };
      await revokedEverywhere(
        (node) => call(node, '/api/v1/me', { headers: { authorization: `Bearer ${pat.token}` } }),
        () => call(a, `/api/v1/tokens/${pat.id}`, { method: 'DELETE', headers: { cookie } }),
      );
    });

    it('an org API key revoked on A is refused by B at once', async () => {
      const { cookie, orgId } = await signedIn(a);
      const minted = await call(a, '/api/v1/org/tokens', {
        method: 'POST',
        headers: { cookie, 'x-org-id': orgId },
        body: { scopes: ['members:read'] },
      });
      assert.equal(minted.status, 201);
      const key = (await minted.json()) as { id: string; token: string };
      await revokedEverywhere(
        (node) => call(node, '/api/v1/org/members', { headers: { authorization: `Bearer ${key.token}` } }),
        () =>
          call(a, `/api/v1/org/tokens/${key.id}`, {
            method: 'DELETE',
            headers: { cookie, 'x-org-id': orgId },
          }),
      );
    });

    it('a session signed out on A is refused by B at once', async () => {
      const { cookie } = await signedIn(a);
      await revokedEverywhere(
        (node) => call(node, '/api/v1/me', { headers: { cookie } }),
        () => call(a, '/api/auth/signout', { method: 'POST', headers: { cookie } }),
      );
    });

    it('a member removed on A loses the org on B at once', async () => {
      const owner = await signedIn(a);
      const member = await signedIn(a);
      // The second person joins the first org through a real invitation.
      const me = (await (await call(a, '/api/v1/me', { headers: { cookie: member.cookie } })).json()) as {
        user: { id: string; email: string };
      };
      const inv = await call(a, '/api/v1/org/invitations', {
        method: 'POST',
        headers: { cookie: owner.cookie, 'x-org-id': owner.orgId },
        body: { email: me.user.email, role: 'member' },
      });
      assert.equal(inv.status, 201);
      const token = await invitationToken(me.user.email);
      assert.equal(
        (
          await call(a, '/api/v1/invitations/accept', {
            method: 'POST',
            headers: { cookie: member.cookie },
            body: { token },
          })
        ).status,
        200,
      );
      const read = (node: Child) =>
        call(node, '/api/v1/org', { headers: { cookie: member.cookie, 'x-org-id': owner.orgId } });
      assert.equal((await read(b)).status, 200);
      assert.equal((await read(b)).status, 200);
      const removed = await call(a, `/api/v1/org/members/${me.user.id}`, {
        method: 'DELETE',
        headers: { cookie: owner.cookie, 'x-org-id': owner.orgId },
      });
      assert.equal(removed.status, 204);
      assert.equal((await read(b)).status, 403);
    });
  },
);

describe(
  "an org app's changes across two nodes sharing PostgreSQL and Redis",
  { skip: external ? false : 'needs shared PostgreSQL and Redis' },
  () => {
    /** An org app on node A (confidential, mcp:read) with these grant types. */
    async function orgApp(grantTypes: string[]) {
      const { cookie, orgId } = await signedIn(a);
      const res = await call(a, '/api/v1/oauth/clients', {
        method: 'POST',
        headers: { cookie, 'x-org-id': orgId },
        body: {
          name: 'Worker',
          type: 'confidential',
          grant_types: grantTypes,
          scopes: ['mcp:read'],
          ...(grantTypes.includes('authorization_code') ? { redirect_uris: [REDIRECT] } : {}),
        },
      });
      assert.equal(res.status, 201);
      const app = (await res.json()) as { id: string; client_id: string; client_secret: string };
      const manage = (method: string, path = '', body?: unknown) =>
        call(a, `/api/v1/oauth/clients/${app.id}${path}`, {
          method,
          headers: { cookie, 'x-org-id': orgId },
          ...(body !== undefined ? { body } : {}),
        });
      return { app, manage };
    }

    const clientCredentials = (node: Child, clientId: string, secret: string) =>
      fetch(`${node.url}/api/oauth/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: MCP_URL }).toString(),
      });

    it("an app's secret rotated on A is refused by B at once, and the new one accepted", async () => {
      const { app, manage } = await orgApp(['client_credentials']);
      await revokedEverywhere(
        (node) => clientCredentials(node, app.client_id, app.client_secret),
        () => manage('POST', '/secret'),
      );
      // The rotation's answer carried the new secret; B takes it on its first request.
      const rotated = (await (await manage('POST', '/secret')).json()) as { client_secret: string };
      assert.equal((await clientCredentials(b, app.client_id, rotated.client_secret)).status, 200);
    });

    it('an app deleted on A is refused by B at once', async () => {
      const { app, manage } = await orgApp(['client_credentials']);
      await revokedEverywhere(
        (node) => clientCredentials(node, app.client_id, app.client_secret),
        () => manage('DELETE'),
      );
    });

    it('client_credentials allowed to an app on A is usable on B at once', async () => {
      const { app, manage } = await orgApp(['authorization_code']);
      const refused = await clientCredentials(b, app.client_id, app.client_secret);
      assert.equal(refused.status, 400);
      assert.equal(((await refused.json()) as { error: string }).error, 'unauthorized_client');
      const patched = await manage('PATCH', '', {
        grant_types: ['authorization_code', 'client_credentials'],
      });
      assert.equal(patched.status, 200);
      assert.equal((await clientCredentials(b, app.client_id, app.client_secret)).status, 200);
    });
  },
);

/** The invitation link from the dev outbox the nodes share (both write .eml files under LATCHKEY_DATA_DIR). */
async function invitationToken(email: string): Promise<string> {
  const { readOutbox } = await import('../helpers/harness.js');
  const mails = (await readOutbox(`${dir}/outbox`)).filter((m) => m.to === email);
  const m = /\/invite\?token=([A-Za-z0-9_-]+)/.exec(mails[mails.length - 1]?.text ?? '');
  assert.ok(m, 'the invitation mail is in the outbox');
  return m[1]!;
}
