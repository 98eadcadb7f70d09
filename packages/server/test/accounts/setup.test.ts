import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { issueSetupLink } from '../../src/accounts/setup.js';
import { signupAgent } from '../agents/helpers.js';
import {
  type Client,
  DEFAULT_PASSWORD,
  PUBLIC_URL,
  type TestServer,
  testServer,
  tokenFrom,
  uniqueEmail,
} from '../helpers/harness.js';

// The setup link makes an instance admin. It used to stop working as soon as any account existed:
// someone signing up first (or an agent naming an overseer) left the instance with no admin and
// no link, ever. Now every start prints a link until an instance admin exists.

const servers: TestServer[] = [];
after(async () => {
  for (const t of servers) await t.close();
});

async function fresh(): Promise<TestServer> {
  const t = await testServer();
  servers.push(t);
  return t;
}

function postSetup(c: Client, fields: Record<string, string>) {
  return c.req({
    method: 'POST',
    url: '/setup',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

const newAdmin = (token: string, email = uniqueEmail('operator')) => ({
  token,
  email,
  name: 'Operator',
  password: DEFAULT_PASSWORD,
  org_name: 'Operations',
});

/** Whether the client's account is an instance admin, as the admin API sees it. */
async function isInstanceAdmin(c: Client): Promise<boolean> {
  const res = await c.get('/api/v1/admin/signup-policy');
  assert.ok(res.statusCode === 200 || res.statusCode === 403, res.body);
  return res.statusCode === 200;
}

async function link(t: TestServer): Promise<string> {
  const l = await issueSetupLink(t.deps.db, t.deps.clock, PUBLIC_URL);
  assert.ok(l, 'a link is issued while no instance admin exists');
  assert.ok(l.startsWith(`${PUBLIC_URL}/setup?token=`), l);
  return tokenFrom(l);
}

describe('the setup link', () => {
  it('still works after an early sign-up and an agent signup made accounts, and makes a new account an instance admin', async () => {
    const t = await fresh();
    const early = t.client();
    await early.signup();
    await signupAgent(t);
    const token = await link(t);

    const c = t.client();
    const page = await c.get(`/setup?token=${token}`);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<form method="post" action="\/setup">/);
    const res = await postSetup(c, newAdmin(token));
    assert.equal(res.statusCode, 303, res.body);
    assert.ok(c.cookie, 'signed in');
    assert.equal(await isInstanceAdmin(c), true);
    assert.equal(await isInstanceAdmin(early), false, 'the early sign-up is not an admin');

    // Single use: the link is dead for reading and for posting.
    assert.equal((await t.client().get(`/setup?token=${token}`)).statusCode, 404);
    assert.equal((await postSetup(t.client(), newAdmin(token))).statusCode, 400);
    // An admin exists: no more links.
    assert.equal(await issueSetupLink(t.deps.db, t.deps.clock, PUBLIC_URL), null);
  });

  it('refuses to create an account over an existing email (no takeover), and the link keeps working', async () => {
    const t = await fresh();
    const victim = await t.client().signup();
    const token = await link(t);
    const attacker = t.client();
    const res = await postSetup(attacker, newAdmin(token, victim.user.email));
    assert.equal(res.statusCode, 409, res.body);
    assert.match(res.body, /An account with this email exists/);
    assert.equal(attacker.cookie, null, 'no session');
    const row = await t.deps.db
      .selectFrom('users')
      .select(['instance_admin', 'password_hash'])
      .where('id', '=', victim.user.id)
      .executeTakeFirstOrThrow();
    assert.equal(row.instance_admin, false);
    assert.equal((await t.client().get(`/setup?token=${token}`)).statusCode, 200, 'still valid');
  });

  it('makes the signed-in account an instance admin once they confirm; every other link dies with it', async () => {
    const t = await fresh();
    const person = t.client();
    const me = await person.signup();
    const first = await link(t);
    const second = await link(t);

    const page = await person.get(`/setup?token=${first}`);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Make me an instance admin/);
    assert.ok(page.body.includes(me.user.email), 'names the signed-in account');
    assert.equal(await isInstanceAdmin(person), false, 'opening the link alone changes nothing');

    // Confirming needs a browser session: without one, nothing happens and the link stays.
    const anonymous = await postSetup(t.client(), { token: first, use: 'session' });
    assert.equal(anonymous.statusCode, 401);
    assert.equal((await t.client().get(`/setup?token=${first}`)).statusCode, 200);

    const res = await postSetup(person, { token: first, use: 'session' });
    assert.equal(res.statusCode, 303, res.body);
    assert.equal(await isInstanceAdmin(person), true);
    const audit = await t.deps.db
      .selectFrom('audit_events')
      .select(['actor', 'target'])
      .where('action', '=', 'setup.completed')
      .execute();
    assert.deepEqual(audit, [{ actor: `user:${me.user.id}`, target: `user:${me.user.id}` }]);

    for (const token of [first, second]) {
      assert.equal((await t.client().get(`/setup?token=${token}`)).statusCode, 404);
      assert.equal((await postSetup(person, { token, use: 'session' })).statusCode, 400);
    }
    assert.equal(await issueSetupLink(t.deps.db, t.deps.clock, PUBLIC_URL), null);
  });

  it('refuses a cross-site confirmation post (login-CSRF style: another site spending the link)', async () => {
    const t = await fresh();
    const person = t.client();
    await person.signup();
    const token = await link(t);
    const res = await person.req({
      method: 'POST',
      url: '/setup',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ token, use: 'session' }).toString(),
    });
    assert.equal(res.statusCode, 403);
    assert.equal(await isInstanceAdmin(person), false);
  });
});
