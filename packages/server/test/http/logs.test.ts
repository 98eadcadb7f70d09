import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  followLink,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  type TestServer,
  testServer,
  tokenFrom,
  uniqueEmail,
} from '../helpers/harness.js';
import { BACKEND, openTestStorage, type TestStorage } from '../helpers/storage.js';
import {
  type Child,
  ensureBuilt,
  killAll,
  randomIp,
  removeDir,
  spawnServer,
  tempDir,
} from '../process/proc.js';
import { bearer, mintPat } from '../tokens/helpers.js';

// Nothing secret reaches a log line: not a password (right, wrong or new), not a session cookie,
// not a magic-link, invitation or setup token, not a bearer token, whatever the request did.

const distinct = (tag: string) => `${tag}-${randomBytes(9).toString('base64url')}`;

function assertNoSecrets(lines: string[], secrets: Map<string, string>) {
  for (const line of lines) {
    for (const [what, value] of secrets) {
      assert.ok(!line.includes(value), `a log line holds the ${what}: ${line.slice(0, 400)}`);
      // Also URL-encoded, as it would appear in a logged URL.
      assert.ok(
        !line.includes(encodeURIComponent(value)),
        `a log line holds the ${what} (url-encoded): ${line.slice(0, 400)}`,
      );
    }
  }
}

describe('logs of the in-process server', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer();
  });
  after(() => t.close());

  it('hold no password, cookie or token after sign-up, sign-in, magic links, invitations and errors', async () => {
    const secrets = new Map<string, string>();
    const password = distinct('pw');
    const wrong = distinct('wrongpw');
    const newPassword = distinct('newpw');
    secrets.set('password', password).set('wrong password', wrong).set('new password', newPassword);

    // Sign up, sign in (wrong, right), change password.
    const c = t.client();
    const { user, org } = await c.signup({ password });
    secrets.set('signup cookie', c.cookie!);
    assert.equal(
      (await t.client().post('/api/auth/signin', { email: user.email, password: wrong })).statusCode,
      401,
    );
    assert.equal((await c.post('/api/auth/signin', { email: user.email, password })).statusCode, 200);
    secrets.set('signin cookie', c.cookie!);
    assert.equal(
      (await c.post('/api/auth/password', { current_password: password, new_password: newPassword }))
        .statusCode,
      200,
    );
    secrets.set('cookie after password change', c.cookie!);

    // Magic link: request, use, reuse.
    const m = t.client();
    assert.equal((await m.post('/api/auth/magic-link', { email: user.email })).statusCode, 202);
    const magic = tokenFrom(
      linkIn((await lastMailTo(t.outboxDir, user.email)).text, `${PUBLIC_URL}/api/auth/magic-link/callback`),
    );
    secrets.set('magic-link token', magic);
    assert.equal((await followLink(m, `/api/auth/magic-link/callback?token=${magic}`)).statusCode, 303);
    secrets.set('magic-link cookie', m.cookie!);
    assert.equal(
      (await followLink(t.client(), `/api/auth/magic-link/callback?token=${magic}`)).statusCode,
      400,
    );

    // Invitation: create, open the page, accept with a wrong token and the right one.
    const inviteeEmail = uniqueEmail('invitee');
    assert.equal(
      (await c.post('/api/v1/org/invitations', { email: inviteeEmail, role: 'member' }, org.id)).statusCode,
      201,
    );
    const invitation = tokenFrom(
      linkIn((await lastMailTo(t.outboxDir, inviteeEmail)).text, `${PUBLIC_URL}/invite`),
    );
    secrets.set('invitation token', invitation);
    assert.equal((await t.client().get(`/invite?token=${invitation}`)).statusCode, 200);
    const invitee = t.client();
    const inviteePassword = distinct('inviteepw');
    secrets.set('invitee password', inviteePassword);
    await invitee.signup({ email: inviteeEmail, password: inviteePassword });
    secrets.set('invitee cookie', invitee.cookie!);
    const badToken = distinct('badinvite');
    secrets.set('wrong invitation token', badToken);
    assert.equal((await invitee.post('/api/v1/invitations/accept', { token: badToken })).statusCode, 400);
    assert.equal((await invitee.post('/api/v1/invitations/accept', { token: invitation })).statusCode, 200);

    // Errors with secrets in them: bodies that fail validation, bad JSON, 404s with tokens in the query, junk credentials.
    const inBody = distinct('bodypw');
    secrets.set('password in an invalid body', inBody);
    assert.equal(
      (
        await t
          .client()
          .post('/api/auth/signup', { email: uniqueEmail(), password: inBody, name: 'X', extra: inBody })
      ).statusCode,
      400,
    );
    assert.equal((await t.client().post('/api/auth/signin', { email: 5, password: inBody })).statusCode, 400);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signin',
      headers: { 'content-type': 'application/json', origin: PUBLIC_URL },
      payload: `{"email":"a@b.c","password":"${inBody}"`,
    });
    assert.equal(res.statusCode, 400);
    const inQuery = distinct('querytok');
    secrets.set('token in a query string', inQuery);
    assert.equal(
      (await t.app.inject({ url: `/api/v1/nothing?token=${inQuery}&code=${inQuery}&password=${inQuery}` }))
        .statusCode,
      404,
    );
    assert.equal(
      (await t.app.inject({ url: `/api/auth/magic-link/callback?token=${inQuery}` })).statusCode,
      400,
    );
    assert.equal((await t.app.inject({ url: `/setup?token=${inQuery}` })).statusCode, 404);
    const bearer = `lk_pat_${distinct('bearer').replace(/-/g, '')}`;
    secrets.set('bearer token', bearer);
    assert.equal(
      (await t.app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${bearer}` } })).statusCode,
      401,
    );
    const junkCookie = distinct('cookie');
    secrets.set('junk session cookie', junkCookie);
    assert.equal(
      (await t.app.inject({ url: '/api/v1/me', headers: { cookie: `lk_session=${junkCookie}` } })).statusCode,
      401,
    );

    assert.ok(t.logs.length > 20, 'the server logged requests');
    assert.ok(
      t.logs.some((l) => l.includes('"url":"/api/v1/nothing?token=…&code=…&password=…"')),
      'query values are redacted, keys kept',
    );
    assertNoSecrets(t.logs, secrets);
  });

  it('name the credential (kind and display prefix) and the request on the lines of a token request', async () => {
    const c = t.client();
    await c.signup();
    const pat = await mintPat(c, { name: 'logged', scopes: ['account:read'] });
    const from = t.logs.length;
    // Validated in the database, then answered from the credential cache: both are logged alike.
    for (let i = 0; i < 2; i++)
      assert.equal((await bearer(t, pat.token, { url: '/api/v1/me' })).statusCode, 200);
    const completed = t.logs
      .slice(from)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request completed');
    assert.equal(completed.length, 2);
    for (const line of completed) {
      assert.deepEqual(line.credential, { kind: 'pat', prefix: pat.prefix });
      assert.equal(typeof line.reqId, 'string');
      assert.equal((line.res as { statusCode: number }).statusCode, 200);
    }
    assertNoSecrets(t.logs.slice(from), new Map([['bearer token', pat.token]]));
  });
});

describe('logs of the real server process', () => {
  let child: Child | null = null;
  let dir: string;
  let storage: TestStorage | null = null;
  before(async () => {
    ensureBuilt();
    dir = tempDir('logs');
    if (BACKEND === 'external') storage = await openTestStorage();
  });
  after(async () => {
    await killAll();
    await storage?.close();
    removeDir(dir);
  });

  it('print the setup link only as the plain line for the operator, and no secret in any JSON line', async () => {
    const backendEnv: Record<string, string> = storage
      ? { DATABASE_URL: storage.databaseUrl!, REDIS_URL: storage.redisUrl! }
      : {};
    child = await spawnServer({
      cwd: dir,
      env: { LATCHKEY_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'trace', TRUST_PROXY: 'true', ...backendEnv },
    });
    const ip = randomIp();
    const [setupLink] = await child.waitForOutput(/http:\/\/127\.0\.0\.1:\d+\/setup\?token=[\w-]+/);
    await child.waitReady();
    const setupToken = new URL(setupLink).searchParams.get('token')!;
    const secrets = new Map<string, string>();
    const password = distinct('ownerpw');
    secrets.set('owner password', password);

    const post = (path: string, body: string, type: string, cookie?: string) =>
      fetch(child!.url + path, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': type,
          origin: child!.url,
          'x-forwarded-for': ip,
          ...(cookie ? { cookie } : {}),
        },
        body,
      });
    const email = uniqueEmail('owner');
    const setup = await post(
      '/setup',
      new URLSearchParams({ token: setupToken, email, name: 'Owner', password, org_name: 'Acme' }).toString(),
      'application/x-www-form-urlencoded',
    );
    assert.equal(setup.status, 303);
    const ownerCookie = setup.headers.getSetCookie()[0]!.split(';')[0]!;
    secrets.set('setup session cookie', ownerCookie.split('=')[1]!);

    const wrong = distinct('wrongpw');
    secrets.set('wrong password', wrong);
    assert.equal(
      (await post('/api/auth/signin', JSON.stringify({ email, password: wrong }), 'application/json')).status,
      401,
    );
    const signin = await post('/api/auth/signin', JSON.stringify({ email, password }), 'application/json');
    assert.equal(signin.status, 200);
    secrets.set('signin cookie', signin.headers.getSetCookie()[0]!.split(';')[0]!.split('=')[1]!);

    assert.equal(
      (await post('/api/auth/magic-link', JSON.stringify({ email }), 'application/json')).status,
      202,
    );
    const magic = tokenFrom(
      linkIn(
        (await lastMailTo(join(dir, 'data/outbox'), email)).text,
        `${child.url}/api/auth/magic-link/callback`,
      ),
    );
    secrets.set('magic-link token', magic);
    const cb = await post(
      '/api/auth/magic-link/callback',
      new URLSearchParams({ token: magic, confirm: 'yes' }).toString(),
      'application/x-www-form-urlencoded',
    );
    assert.equal(cb.status, 303);
    const magicCookie = cb.headers.getSetCookie()[0]!.split(';')[0]!;
    secrets.set('magic-link cookie', magicCookie.split('=')[1]!);

    const invitee = uniqueEmail('invitee');
    assert.equal(
      (
        await post(
          '/api/v1/org/invitations',
          JSON.stringify({ email: invitee, role: 'admin' }),
          'application/json',
          // The link proved the owner's address from another browser: the setup session ended.
          magicCookie,
        )
      ).status,
      201,
    );
    secrets.set(
      'invitation token',
      tokenFrom(linkIn((await lastMailTo(join(dir, 'data/outbox'), invitee)).text, `${child.url}/invite`)),
    );
    const inQuery = distinct('querytok');
    secrets.set('token in a query string', inQuery);
    assert.equal((await fetch(`${child.url}/api/v1/nothing?token=${inQuery}`)).status, 404);
    assert.equal(
      (await fetch(`${child.url}/api/v1/me`, { headers: { authorization: `Bearer ${inQuery}` } })).status,
      401,
    );

    child.proc.kill('SIGTERM');
    assert.deepEqual(await child.exited, { code: 0, signal: null });

    const lines = `${child.stdout()}\n${child.stderr()}`.split('\n').filter((l) => l.trim() !== '');
    const json = lines.filter((l) => l.startsWith('{'));
    assert.ok(json.length > 10, 'the server logged JSON lines');
    assert.ok(
      json.some((l) => l.includes('"url":"/api/v1/nothing?token=…"')),
      'request lines are logged, query values redacted',
    );
    // The setup token appears exactly once: on the plain line printed for the operator.
    const withSetupToken = lines.filter((l) => l.includes(setupToken));
    assert.deepEqual(withSetupToken, [`  Create the first owner (one-time link): ${setupLink}`]);
    assertNoSecrets(json, new Map([...secrets, ['setup token', setupToken]]));
    assertNoSecrets(lines, secrets);
  });
});
