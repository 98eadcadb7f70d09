import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { after, before, describe, it } from 'node:test';
import { TOTP_PERIOD_SECONDS, totpCode } from '../../src/accounts/mfa/totp.js';
import { manualClock, MINUTE } from '../../src/lib/clock.js';
import { newId } from '../../src/lib/secrets.js';
import {
  type Client,
  DEFAULT_PASSWORD,
  lastMailTo,
  linkIn,
  type TestServer,
  testServer,
  tokenFrom,
} from '../helpers/harness.js';
import { bearer, mintPat } from '../tokens/helpers.js';

const ADMIN_TOKEN = 'admin-factors-break-glass-0123456789abcdef';
const clock = manualClock(new Date('2026-12-05T06:00:00Z'));
const STEP = TOTP_PERIOD_SECONDS * 1000;
let t: TestServer;
let admin: Client;
let adminId: string;
before(async () => {
  t = await testServer({ clock, env: { ADMIN_TOKEN } });
  admin = t.client();
  const { user } = await admin.signup({ name: 'Operator' });
  adminId = user.id;
  await t.deps.db.updateTable('users').set({ instance_admin: true }).where('id', '=', user.id).execute();
});
after(() => t.close());

function problem(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.json().code, code, res.body);
}

const NOBODY = '00000000-0000-4000-8000-000000000000';

async function enrolTotp(c: Client) {
  const start = await c.post('/api/v1/me/mfa/totp');
  assert.equal(start.statusCode, 200, start.body);
  const secret = start.json().secret as string;
  const ok = await c.post('/api/v1/me/mfa/totp/confirm', { code: totpCode(secret, clock.now()) });
  assert.equal(ok.statusCode, 200, ok.body);
  clock.advance(STEP);
  return secret;
}

/** A passkey row as a registration stores it (registration itself is tested in Chromium). */
async function addPasskey(userId: string, name = 'Laptop') {
  const id = newId();
  await t.deps.db
    .insertInto('passkeys')
    .values({
      id,
      user_id: userId,
      credential_id: `cred-${id}`,
      public_key: 'pQECAyYgASFYIA',
      name,
      created_at: clock.now(),
      last_used_at: null,
    })
    .execute();
  return id;
}

/** A person with an authenticator app (and recovery codes) and one passkey. */
async function personWithFactors() {
  const c = t.client();
  const s = await c.signup();
  await enrolTotp(c);
  const passkey = await addPasskey(s.user.id);
  return { c, ...s, passkey };
}

const routes = (id: string, passkey: string) =>
  [
    `/api/v1/admin/users/${id}/factors/totp`,
    `/api/v1/admin/users/${id}/factors/recovery-codes`,
    `/api/v1/admin/users/${id}/factors/passkeys/${passkey}`,
  ] as const;

async function factorsOf(id: string) {
  const d = await admin.get(`/api/v1/admin/users/${id}`);
  assert.equal(d.statusCode, 200, d.body);
  return d.json();
}

describe('instance admin: removing a second factor', () => {
  it('refuses a non-admin, an org admin of the person, a personal token and no credential, changing nothing', async () => {
    const p = await personWithFactors();
    const before = await factorsOf(p.user.id);
    assert.deepEqual(before.factors, { totp: true, passkeys: 1, recovery_codes: 10 });
    // An owner of an org the person belongs to is no instance admin.
    const orgAdmin = t.client();
    const o = await orgAdmin.signup();
    const inv = await orgAdmin.post(
      '/api/v1/org/invitations',
      { email: p.user.email, role: 'member' },
      o.org.slug,
    );
    assert.equal(inv.statusCode, 201, inv.body);
    const mail = await lastMailTo(t.outboxDir, p.user.email);
    const acc = await p.c.post('/api/v1/invitations/accept', {
      token: tokenFrom(linkIn(mail.text, 'http://localhost:8484/invite')),
    });
    assert.ok(acc.statusCode === 200 || acc.statusCode === 201, acc.body);
    const pat = await mintPat(admin);
    for (const url of routes(p.user.id, p.passkey)) {
      problem(await orgAdmin.req({ method: 'DELETE', url, org: o.org.slug }), 403, 'forbidden');
      problem(await t.client().req({ method: 'DELETE', url }), 401, 'unauthorized');
      problem(await bearer(t, pat.token, { method: 'DELETE', url }), 403, 'credential_not_accepted');
    }
    // The person cannot use the admin route on themselves either (their own go through /me with step-up).
    problem(await p.c.req({ method: 'DELETE', url: routes(p.user.id, p.passkey)[0] }), 403, 'forbidden');
    const afterAll = await factorsOf(p.user.id);
    assert.deepEqual(afterAll.factors, before.factors);
    assert.deepEqual(afterAll.passkeys, before.passkeys);
  });

  it('answers 404 for an unknown account, an unknown passkey, another person’s passkey or a factor not there', async () => {
    const p = await personWithFactors();
    const other = await personWithFactors();
    for (const url of routes(NOBODY, p.passkey))
      problem(await admin.req({ method: 'DELETE', url }), 404, 'not_found');
    problem(await admin.req({ method: 'DELETE', url: routes(p.user.id, NOBODY)[2] }), 404, 'not_found');
    problem(
      await admin.req({ method: 'DELETE', url: routes(p.user.id, other.passkey)[2] }),
      404,
      'not_found',
    );
    problem(
      await admin.req({ method: 'DELETE', url: routes(p.user.id, 'not-a-uuid')[2] }),
      400,
      'invalid_request',
    );
    const bare = await t.client().signup();
    problem(await admin.req({ method: 'DELETE', url: routes(bare.user.id, p.passkey)[0] }), 404, 'not_found');
    problem(await admin.req({ method: 'DELETE', url: routes(bare.user.id, p.passkey)[1] }), 404, 'not_found');
    assert.deepEqual((await factorsOf(p.user.id)).factors, { totp: true, passkeys: 1, recovery_codes: 10 });
    assert.deepEqual((await factorsOf(other.user.id)).factors, {
      totp: true,
      passkeys: 1,
      recovery_codes: 10,
    });
    // An admin removes their own factors through /api/v1/me, with step-up.
    problem(await admin.req({ method: 'DELETE', url: routes(adminId, p.passkey)[0] }), 409, 'conflict');
  });

  it('removes each factor, audited on the instance log and the person’s activity, mails a notice; sessions keep working and step-up asks for what is left', async () => {
    const p = await personWithFactors();
    const second = await addPasskey(p.user.id, 'Phone');
    const totp = await admin.req({ method: 'DELETE', url: routes(p.user.id, p.passkey)[0] });
    assert.equal(totp.statusCode, 200, totp.body);
    assert.deepEqual(totp.json().factors, { totp: false, passkeys: 2, recovery_codes: 10 });
    const notice = await lastMailTo(t.outboxDir, p.user.email);
    assert.equal(notice.subject, 'A second factor was removed from your Latchkey account');
    assert.match(notice.text, /authenticator app/);
    problem(await admin.req({ method: 'DELETE', url: routes(p.user.id, p.passkey)[0] }), 404, 'not_found');

    // The person's session keeps working; a sensitive action past the step-up window asks for the passkey left.
    assert.equal((await p.c.get('/api/v1/me')).statusCode, 200);
    clock.advance(11 * MINUTE);
    const sensitive = await p.c.post('/api/v1/me/mfa/recovery-codes');
    problem(sensitive, 403, 'step_up_required');
    assert.deepEqual(sensitive.json().methods, ['passkey', 'recovery_code']);

    const codes = await admin.req({ method: 'DELETE', url: routes(p.user.id, p.passkey)[1] });
    assert.equal(codes.statusCode, 200, codes.body);
    assert.deepEqual(codes.json().factors, { totp: false, passkeys: 2, recovery_codes: 0 });

    const key = await admin.req({ method: 'DELETE', url: routes(p.user.id, p.passkey)[2] });
    assert.equal(key.statusCode, 200, key.body);
    assert.deepEqual(
      key.json().passkeys.map((k: { id: string; name: string }) => [k.id, k.name]),
      [[second, 'Phone']],
    );
    problem(await admin.req({ method: 'DELETE', url: routes(p.user.id, p.passkey)[2] }), 404, 'not_found');
    // The break-glass token acts as an instance admin here too.
    const last = await bearer(t, ADMIN_TOKEN, { method: 'DELETE', url: routes(p.user.id, second)[2] });
    assert.equal(last.statusCode, 200, last.body);
    assert.deepEqual(last.json().factors, { totp: false, passkeys: 0, recovery_codes: 0 });
    assert.deepEqual(last.json().passkeys, []);
    // Without a factor there is nothing to re-prove.
    assert.notEqual((await p.c.post('/api/v1/me/passkeys/options')).json().code, 'step_up_required');

    const events = await t.deps.db
      .selectFrom('audit_events')
      .select(['action', 'actor', 'org_id', 'data'])
      .where('target', '=', `user:${p.user.id}`)
      .where('action', 'in', ['user.totp_disabled', 'user.recovery_codes_removed', 'user.passkey_removed'])
      .orderBy('created_at', 'asc')
      .execute();
    assert.deepEqual(events.map((e) => e.action).sort(), [
      'user.passkey_removed',
      'user.passkey_removed',
      'user.recovery_codes_removed',
      'user.totp_disabled',
    ]);
    assert.ok(events.every((e) => e.org_id === null));
    assert.equal(events.filter((e) => e.actor === `user:${adminId}`).length, 3);
    const activity = await p.c.get('/api/v1/me/activity');
    assert.equal(activity.statusCode, 200, activity.body);
    const seen = activity.json().data.map((e: { action: string }) => e.action);
    for (const a of ['user.totp_disabled', 'user.recovery_codes_removed', 'user.passkey_removed'])
      assert.ok(seen.includes(a), seen.join());
    const mails = (await lastMailTo(t.outboxDir, p.user.email)).text;
    assert.match(mails, /a passkey/);
  });

  it('removing the last factor while an org requires one is allowed; the person enrols again at the next sign-in', async () => {
    const owner = t.client();
    const o = await owner.signup();
    await enrolTotp(owner);
    const on = await owner.req({
      method: 'PUT',
      url: '/api/v1/org/mfa',
      body: { mfa_required: true },
      org: o.org.slug,
    });
    assert.equal(on.statusCode, 200, on.body);
    // The owner lost their phone: the instance admin removes the only factor.
    const res = await admin.req({ method: 'DELETE', url: routes(o.user.id, NOBODY)[0] });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().factors, { totp: false, passkeys: 0, recovery_codes: 0 });
    assert.equal(
      (
        (
          await t.deps.db
            .selectFrom('audit_events')
            .select('data')
            .where('target', '=', `user:${o.user.id}`)
            .where('action', '=', 'user.totp_disabled')
            .executeTakeFirstOrThrow()
        ).data as Record<string, unknown> | null
      )?.recovery_codes_removed,
      true,
    );
    const c = t.client();
    const signin = await c.post('/api/auth/signin', { email: o.user.email, password: DEFAULT_PASSWORD });
    assert.equal(signin.statusCode, 200, signin.body);
    assert.equal(signin.json().second_factor, 'enrol');
    assert.equal((await c.get('/api/auth/second-factor')).json().state, 'enrol');
    problem(await c.get('/api/v1/me'), 401, 'second_factor_required');
  });
});
