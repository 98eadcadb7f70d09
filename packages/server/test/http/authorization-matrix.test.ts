import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { after, before, describe, it } from 'node:test';
import { buildApp, type DeclaredRoute, routeTable } from '../../src/app.js';
import type { CredentialKind } from '../../src/auth/principal.js';
import { AuthCache } from '../../src/auth/credential-cache.js';
import { createLogger } from '../../src/http/logging.js';
import type { App } from '../../src/http/types.js';
import { type Permission } from '../../src/auth/permissions.js';
import { type Role, roleAllows } from '../../src/orgs/roles.js';
import { API_SCOPES, scopesForRole } from '../../src/tokens/scopes.js';
import { codeFor, signupAgent, verify } from '../agents/helpers.js';
import { type Client, PUBLIC_URL, type TestServer, testServer } from '../helpers/harness.js';
import { tokensFor } from '../oauth/helpers.js';
import { mintPat } from '../tokens/helpers.js';

/**
 * The authorization table, generated from the routes the server registers: every authenticated
 * route × every kind of credential × with and without the route's scope is either let past the
 * auth layer (any answer but 401/403 — a 400 for the fixed body counts) or refused (401/403).
 * The expectation is computed from the route's own declaration, so a route added without one
 * fails the build (and this file), and a route whose declaration the auth layer ignores fails here.
 */
const ADMIN_TOKEN = 'matrix-break-glass-0123456789-abcdefghij';
const API = `${PUBLIC_URL}/api`;
/** A body no route's schema accepts: an allowed caller gets 400, never a state change. */
const BAD_BODY = { __matrix: true };

interface Credential {
  name: string;
  kind: CredentialKind;
  /** null: everything its role allows. */
  scopes: readonly string[] | null;
  /** The role the credential acts with in the org the request names. */
  role: Role;
  person: boolean;
  /** A session, or a PAT minted by one. */
  fromSession: boolean;
  /** Bound to one org (service tokens, org keys, agent keys, OAuth tokens): sends no x-org-id. */
  bound: boolean;
  headers(): Record<string, string>;
}

let t: TestServer;
let owner: Client;
let orgId: string;
const creds: Credential[] = [];
let ipCounter = 0;
const ip = () => `10.160.${Math.floor(++ipCounter / 250) % 250}.${ipCounter % 250}`;

before(async () => {
  t = await testServer({ env: { ADMIN_TOKEN } });
  owner = t.client();
  const { user, org } = await owner.signup({ name: 'Matrix Owner' });
  orgId = org.id;
  // The owner also runs the instance, so the operator routes have an allowed session.
  await t.deps.db.updateTable('users').set({ instance_admin: true }).where('id', '=', user.id).execute();
  const cookie = () => ({ cookie: `lk_session=${owner.cookie}`, origin: PUBLIC_URL });
  const bearer = (token: string) => () => ({ authorization: `Bearer ${token}` });
  const base = { role: 'owner' as Role, person: true, fromSession: false, bound: false };
  creds.push({ ...base, name: 'session', kind: 'session', scopes: null, fromSession: true, headers: cookie });

  const patWith = await mintPat(owner, { scopes: [...API_SCOPES] });
  const patWithout = await mintPat(owner, { scopes: [] });
  creds.push({
    ...base,
    name: 'PAT with',
    kind: 'pat',
    scopes: API_SCOPES,
    fromSession: true,
    headers: bearer(patWith.token),
  });
  creds.push({
    ...base,
    name: 'PAT without',
    kind: 'pat',
    scopes: [],
    fromSession: true,
    headers: bearer(patWithout.token),
  });

  const admin = scopesForRole('admin');
  const orgBound = { role: 'admin' as Role, person: false, fromSession: false, bound: true };
  for (const [kind, path, body] of [
    ['svc', '/api/v1/tokens', { type: 'svc' }],
    ['org', '/api/v1/org/tokens', {}],
  ] as const) {
    for (const [variant, scopes] of [
      ['with', admin],
      ['without', []],
    ] as const) {
      const res = await owner.post(path, { ...body, scopes }, orgId);
      assert.equal(res.statusCode, 201, res.body);
      creds.push({
        ...orgBound,
        name: `${kind} ${variant}`,
        kind,
        scopes,
        headers: bearer(res.json().token),
      });
    }
  }

  const agentScopes = async (key: string) => {
    const row = await t.deps.db
      .selectFrom('api_tokens')
      .select('scopes')
      .where('prefix', '=', key.slice(0, 21))
      .executeTakeFirstOrThrow();
    return (row.scopes ?? []) as string[];
  };
  const agentBound = { role: 'member' as Role, person: false, fromSession: false, bound: true };
  const unclaimed = await signupAgent(t);
  creds.push({
    ...agentBound,
    name: 'agent key unclaimed',
    kind: 'svc_agent',
    scopes: await agentScopes(unclaimed.api_key),
    headers: bearer(unclaimed.api_key),
  });
  const claimed = await signupAgent(t);
  const v = await verify(t, claimed.api_key, await codeFor(t, claimed.human));
  assert.equal(v.statusCode, 200, v.body);
  creds.push({
    ...agentBound,
    name: 'agent key claimed',
    kind: 'svc_agent',
    scopes: await agentScopes(claimed.api_key),
    headers: bearer(claimed.api_key),
  });

  const oauthWith = await tokensFor(t, owner, {
    resource: API,
    scope: API_SCOPES.join(' '),
    tick: [...API_SCOPES],
    org: orgId,
  });
  const oauthWithout = await tokensFor(t, owner, { resource: API, scope: 'billing:read', org: orgId });
  for (const [variant, tok] of [
    ['with', oauthWith.tokens],
    ['without', oauthWithout.tokens],
  ] as const) {
    creds.push({
      ...base,
      name: `OAuth ${variant}`,
      kind: 'oauth',
      scopes: tok.scope.split(' '),
      bound: true,
      headers: bearer(tok.access_token),
    });
  }
  assert.deepEqual([...oauthWith.tokens.scope.split(' ')].sort(), [...API_SCOPES].sort());

  creds.push({
    ...base,
    name: 'ADMIN_TOKEN',
    kind: 'admin-token',
    scopes: null,
    person: false,
    headers: bearer(ADMIN_TOKEN),
  });
});
after(() => t.close());

/** What the declaration says this credential may do on this route. */
function expected(r: DeclaredRoute, c: Credential): 'allow' | 'deny' | 'anonymous' {
  // A page that may be anonymous treats a credential it does not take as no credential at all.
  if (r.auth === 'optional') return r.credentials && !r.credentials.includes(c.kind) ? 'anonymous' : 'allow';
  if (r.credentials && !r.credentials.includes(c.kind)) return 'deny';
  const has = (s: string) => c.scopes === null || c.scopes.includes(s);
  if (r.scope === 'account:write') {
    if (!(c.kind === 'session' || (c.kind === 'pat' && c.fromSession && has('account:write')))) return 'deny';
  } else if (r.scope === 'account:read') {
    // A credential that is no person reads only itself (`GET /me`); the rest is a person's.
    if (!c.person) return key(r) === 'GET /api/v1/me' ? 'allow' : 'deny';
    if (!has('account:read') && !has('account:write')) return 'deny';
  } else if (r.scope) {
    if (!c.person || !has(r.scope)) return 'deny';
  }
  if (r.permission) {
    if (!has(r.permission)) return 'deny';
    if (r.auth === 'org' && !roleAllows(c.role, r.permission as Permission)) return 'deny';
  }
  return 'allow';
}

const key = (r: DeclaredRoute) => `${r.method} ${r.url}`;
const ANONYMOUS: Credential = {
  name: 'anonymous',
  kind: 'session',
  scopes: [],
  role: 'member',
  person: false,
  fromSession: false,
  bound: true,
  // Our Origin, as a browser's form would send: the same-origin check is not what is measured.
  headers: () => ({ origin: PUBLIC_URL }),
};
/** Routes whose allowed call would take the fixture down; run against a scratch org instead. */
const DESTRUCTIVE = new Set(['DELETE /api/v1/org']);
/** Routes that would end the credentials the rest of the table uses: run last. */
const LAST = new Set(['DELETE /api/v1/me/grants', 'POST /api/auth/signout']);

async function send(r: DeclaredRoute, c: Credential, org: string): Promise<LightMyRequestResponse> {
  const url = r.url.replace(/:(\w+)/g, () => crypto.randomUUID()).replace(/\*$/, 'x');
  const headers: Record<string, string> = { ...c.headers() };
  if (!c.bound) headers['x-org-id'] = org;
  if (c.kind === 'session' && r.method !== 'GET') headers.origin = PUBLIC_URL;
  const withBody = r.body && r.method !== 'GET';
  return t.app.inject({
    method: r.method as 'GET',
    url,
    headers,
    remoteAddress: ip(),
    ...(withBody ? { payload: BAD_BODY } : {}),
  });
}

describe('authorization matrix', () => {
  it('every route with auth other than none declares what it needs', () => {
    const table = routeTable(t.app);
    const api = table.filter((r) => r.url.startsWith('/api/') && r.auth !== 'none');
    assert.ok(api.length > 60, `only ${api.length} authenticated /api routes`);
    for (const r of table) {
      if (r.auth === 'none') continue;
      assert.ok(r.permission || r.scope || r.credentials, `${key(r)} declares nothing`);
      if (r.auth === 'org') assert.ok(r.permission, `${key(r)} is an org route without a permission`);
      assert.ok(
        !(r.auth !== 'optional' && !r.credentials && !r.scope && !r.permission),
        `${key(r)} relies on "a session or any token"`,
      );
    }
  });

  it('a route added without a declaration fails the build', async () => {
    // Its own auth cache: closing this app must not unsubscribe the shared server's.
    const app = await buildApp({ ...t.deps, auth: new AuthCache(t.deps.cache, 0) }, createLogger('fatal'));
    try {
      assert.throws(
        () => (app as App).get('/api/v1/matrix-undeclared', { config: { auth: 'user' } }, async () => ({})),
        /declare config\.permission, config\.scope or config\.credentials/,
      );
      assert.throws(
        () => (app as App).get('/api/v1/matrix-org', { config: { auth: 'org' } }, async () => ({})),
        /must declare config\.permission/,
      );
    } finally {
      await app.close();
    }
  });

  it('every route × credential × scope is allowed or refused as its declaration says', async () => {
    const routes = routeTable(t.app).filter((r) => r.auth !== 'none');
    const ordered = [...routes.filter((r) => !LAST.has(key(r))), ...routes.filter((r) => LAST.has(key(r)))];
    const wrong: string[] = [];
    let checked = 0;
    for (const r of ordered) {
      for (const c of creds) {
        const want = expected(r, c);
        let org = orgId;
        if (DESTRUCTIVE.has(key(r)) && want === 'allow') {
          // Bound credentials cannot be pointed at a scratch org; their refusals are what matter.
          if (c.bound) continue;
          const scratch = await owner.post('/api/v1/orgs', { name: 'Scratch' });
          assert.equal(scratch.statusCode, 201, scratch.body);
          org = scratch.json().id;
        }
        if (key(r) === 'POST /api/auth/signout' && c.kind === 'session') continue;
        const res = await send(r, c, org);
        checked++;
        const refused = res.statusCode === 401 || res.statusCode === 403;
        if (res.statusCode >= 500) wrong.push(`${key(r)} as ${c.name}: ${res.statusCode}`);
        else if (want === 'anonymous') {
          const anon = await send(r, ANONYMOUS, org);
          if (anon.statusCode !== res.statusCode)
            wrong.push(
              `${key(r)} as ${c.name}: expected ${anon.statusCode} like an anonymous call, got ${res.statusCode}`,
            );
        } else if (r.auth === 'optional') continue;
        else if (want === 'allow' && refused)
          wrong.push(
            `${key(r)} as ${c.name}: expected allowed, got ${res.statusCode} ${res.body.slice(0, 160)}`,
          );
        else if (want === 'deny' && !refused)
          wrong.push(`${key(r)} as ${c.name}: expected refused, got ${res.statusCode}`);
      }
    }
    assert.deepEqual(wrong, [], `${wrong.length} of ${checked} cells disagree with the declarations`);
    assert.ok(checked > routes.length * 10);
  });
});
