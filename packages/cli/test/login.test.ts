// test-backend: embedded — the subject is the CLI, not storage
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'smol-toml';
import type { TestServer } from '@latchkey/server/testing';
import {
  approveAuthorize,
  assertNoStack,
  type Browser,
  browser,
  cli,
  deviceLogin,
  json,
  readToml,
  run,
  signUp,
  startLatchkey,
  stopAll,
  tempHome,
} from './helpers.js';

/** Sign-in, whoami, refresh, LATCHKEY_TOKEN, logout and `login --browser`, against a live server. */
describe('latchkey login / whoami / logout', () => {
  let t: TestServer;
  let url: string;
  let b: Browser;
  let person: Awaited<ReturnType<typeof signUp>>;
  const h = tempHome();
  const opts = { home: h.home };

  before(async () => {
    ({ t, url } = await startLatchkey());
    b = browser(url);
    person = await signUp(b, t);
  });
  after(async () => {
    stopAll();
    await t.close();
    h.cleanup();
  });

  const session = () => readToml(h.configPath).servers[url].session as Record<string, string>;

  it('signs in with the device flow, the test approving the code as the person', async () => {
    const r = await deviceLogin({ ...opts, server: url, b });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${url}/device\\n\\s+Code: [A-Z]{4}-[A-Z]{4}`));
    assert.match(r.stdout, new RegExp(`Signed in to ${url} as CLI Person <${person.email}>`));
    // Reading who you are, your org, and the org's keys: never the account itself.
    assert.match(r.stdout, /Scopes: account:read org:read tokens:manage/);
    // Nothing secret on the terminal.
    assert.doesNotMatch(r.stdout + r.stderr, /lk_(at|rt)_/);
  });

  it('stores the credentials per server in a 0600 file in a 0700 folder under XDG_CONFIG_HOME', () => {
    assert.equal(statSync(h.configPath).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(h.configPath)).mode & 0o777, 0o700);
    const c = readToml(h.configPath);
    assert.equal(c.default_server, url);
    const entry = c.servers[url];
    assert.match(entry.client_id, /\S/);
    assert.match(entry.session.access_token, /^lk_at_/);
    assert.match(entry.session.refresh_token, /^lk_rt_/);
    assert.equal(entry.session.email, person.email);
    assert.equal(entry.session.org_id, person.org.id);
    assert.ok(Date.parse(entry.session.expires_at) > Date.now());
    assert.ok(!existsSync(join(h.home, '.config')), 'nothing under ~/.config when XDG_CONFIG_HOME is set');
  });

  it('whoami prints the person, the org and the credential; --json prints one document', async () => {
    const text = await run(['whoami'], opts); // the default server: the one signed in to
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`User: +CLI Person <${person.email}>`));
    assert.match(text.stdout, new RegExp(`Org: +.*\\(${person.org.slug}, ${person.org.id}\\), owner`));
    assert.match(text.stdout, /Credential: +oauth lk_at_/);
    // The owner's role allows far more; the sign-in's scopes leave these two.
    assert.match(text.stdout, /\nCan: +org:read tokens:manage\n/);
    assert.equal(text.stderr, '');

    const r = await run(['whoami', '--json'], opts);
    assert.equal(r.code, 0, r.stderr);
    const me = json<{
      server: string;
      user: { email: string };
      org: { id: string; permissions: string[] };
      credential: { kind: string; scopes: string[] };
    }>(r);
    assert.equal(me.server, url);
    assert.equal(me.user.email, person.email);
    assert.equal(me.org.id, person.org.id);
    assert.deepEqual(me.org.permissions.sort(), ['org:read', 'tokens:manage']);
    assert.equal(me.credential.kind, 'oauth');
    assert.deepEqual(me.credential.scopes.sort(), ['account:read', 'org:read', 'tokens:manage']);
  });

  it('refreshes an expired access token and stores the rotated refresh token', async () => {
    const before = session();
    const c = readToml(h.configPath);
    c.servers[url].session.expires_at = new Date(Date.now() - 1000).toISOString();
    writeFileSync(h.configPath, stringify(c), { mode: 0o600 });

    const r = await run(['whoami', '--json'], opts);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json<{ user: { email: string } }>(r).user.email, person.email);
    const now = session();
    assert.notEqual(now.access_token, before.access_token);
    assert.match(now.refresh_token!, /^lk_rt_/);
    assert.notEqual(now.refresh_token, before.refresh_token);
    assert.ok(Date.parse(now.expires_at!) > Date.now());
    assert.equal(statSync(h.configPath).mode & 0o777, 0o600);
  });

  it('two processes refreshing at once rotate once and both succeed', async () => {
    const c = readToml(h.configPath);
    const spent = c.servers[url].session.refresh_token as string;
    c.servers[url].session.expires_at = new Date(Date.now() - 1000).toISOString();
    writeFileSync(h.configPath, stringify(c), { mode: 0o600 });
    // Spending one refresh token twice would revoke the sign-in: the config lock prevents it.
    const both = await Promise.all([run(['whoami', '--json'], opts), run(['whoami', '--json'], opts)]);
    for (const r of both) assert.equal(r.code, 0, r.stderr);
    assert.notEqual(session().refresh_token, spent);
    const later = await run(['whoami'], opts);
    assert.equal(later.code, 0, later.stderr);
    assert.ok(!existsSync(`${h.configPath}.lock`), 'the lock is released');
  });

  it('uses LATCHKEY_TOKEN as the bearer and never writes it', async () => {
    const minted = await b('/api/v1/tokens', {
      json: { name: 'env', type: 'pat', scopes: ['account:read', 'org:read'] },
    });
    assert.equal(minted.status, 201, await minted.clone().text());
    const pat = ((await minted.json()) as { token: string }).token;

    const stored = readFileSync(h.configPath, 'utf8');
    const r = await run(['whoami', '--json'], { ...opts, env: { LATCHKEY_TOKEN: pat } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(json<{ credential: { kind: string } }>(r).credential.kind, 'pat');
    assert.equal(readFileSync(h.configPath, 'utf8'), stored, 'the config file is untouched');

    // With LATCHKEY_URL too, a fresh home needs no config file at all, and gets none.
    const fresh = tempHome();
    try {
      const r2 = await run(['whoami'], { home: fresh.home, env: { LATCHKEY_URL: url, LATCHKEY_TOKEN: pat } });
      assert.equal(r2.code, 0, r2.stderr);
      assert.match(r2.stdout, /Credential: +pat lk_pat_.*\(from LATCHKEY_TOKEN\)/);
      assert.ok(!existsSync(fresh.xdg), 'nothing written');
    } finally {
      fresh.cleanup();
    }
  });

  it('logout revokes the refresh token at the server, then forgets the sign-in', async () => {
    const { refresh_token } = session();
    const clientId = readToml(h.configPath).servers[url].client_id as string;
    const r = await run(['logout', '--json'], opts);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r), { server: url, signed_out: true, revoked: true });
    assert.equal(readToml(h.configPath).servers[url].session, undefined);
    assert.equal(readToml(h.configPath).servers[url].client_id, clientId, 'the client is remembered');

    const refreshed = await fetch(`${url}/api/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refresh_token!,
        client_id: clientId,
      }),
    });
    assert.equal(refreshed.status, 400);
    assert.equal(((await refreshed.json()) as { error: string }).error, 'invalid_grant');

    const who = await run(['whoami'], opts);
    assert.equal(who.code, 3);
    assert.match(who.stderr, /Not signed in to .*\n.*latchkey login/);
    assertNoStack(who);
    const again = await run(['logout'], opts);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /Not signed in/);
  });

  it('login --browser: loopback redirect on an ephemeral port, PKCE and state, same client', async () => {
    const clientId = readToml(h.configPath).servers[url].client_id as string;
    const login = cli(['login', '--browser'], opts);
    const [authorize] = await login.waitFor(/http:\/\/\S+\/api\/oauth\/authorize\?\S+/);
    const q = new URL(authorize!).searchParams;
    assert.equal(q.get('client_id'), clientId);
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(q.get('resource'), `${url}/api`);
    const redirect = new URL(q.get('redirect_uri')!);
    assert.equal(redirect.hostname, '127.0.0.1');
    assert.ok(Number(redirect.port) > 0);

    // Something else knocking on the port, without our state, is turned away and ignored.
    const stranger = await fetch(`${redirect.origin}/callback?code=x&state=not-ours`);
    assert.equal(stranger.status, 400);

    const back = await approveAuthorize(b, authorize!);
    assert.equal(back.origin + back.pathname, redirect.href);
    const page = await fetch(back);
    assert.equal(page.status, 200);
    const r = await login.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Signed in to ${url} as CLI Person`));
    assert.equal(readToml(h.configPath).servers[url].client_id, clientId, 'registered once per server');

    const who = await run(['whoami', '--json'], opts);
    assert.equal(who.code, 0, who.stderr);
    assert.equal(json<{ user: { email: string } }>(who).user.email, person.email);
  });

  it('a denied sign-in exits 3 and stores no session', async () => {
    const fresh = tempHome();
    try {
      const r = await deviceLogin({ home: fresh.home, server: url, b, decision: 'deny' });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /latchkey: The sign-in was denied\./);
      assertNoStack(r);
      assert.equal(readToml(fresh.configPath).servers[url].session, undefined);
    } finally {
      fresh.cleanup();
    }
  });

  it('honours HOME/.config when XDG_CONFIG_HOME is not set', async () => {
    const fresh = tempHome();
    try {
      const r = await deviceLogin({ home: fresh.home, xdg: null, server: url, b, args: ['--json'] });
      assert.equal(r.code, 0, r.stderr);
      const doc = json<{ server: string; user: { email: string } }>(r);
      assert.equal(doc.user.email, person.email);
      const path = join(fresh.home, '.config', 'latchkey', 'config.toml');
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.match(readToml(path).servers[url].session.access_token, /^lk_at_/);
    } finally {
      fresh.cleanup();
    }
  });
});
