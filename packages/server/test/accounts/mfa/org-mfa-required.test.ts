import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TOTP_PERIOD_SECONDS, totpCode } from '../../../src/accounts/mfa/totp.js';
import { DAY, manualClock, MINUTE } from '../../../src/lib/clock.js';
import {
  type Client,
  DEFAULT_PASSWORD,
  formOf,
  lastMailTo,
  linkIn,
  type TestServer,
  testServer,
  tokenFrom,
} from '../../helpers/harness.js';

const clock = manualClock(new Date('2026-12-05T06:00:00Z'));
let t: TestServer;
before(async () => {
  t = await testServer({ clock });
});
after(() => t.close());

const STEP = TOTP_PERIOD_SECONDS * 1000;

async function enrolTotp(c: Client) {
  const start = await c.post('/api/v1/me/mfa/totp');
  assert.equal(start.statusCode, 200, start.body);
  const secret = start.json().secret as string;
  const ok = await c.post('/api/v1/me/mfa/totp/confirm', { code: totpCode(secret, clock.now()) });
  assert.equal(ok.statusCode, 200, ok.body);
  clock.advance(STEP);
  return secret;
}

/** An owner (with a factor) and a member (without one) of the owner's org. */
async function orgWithMember(role: 'member' | 'admin' = 'member') {
  const owner = t.client();
  const o = await owner.signup();
  const member = t.client();
  const m = await member.signup();
  const inv = await owner.post('/api/v1/org/invitations', { email: m.user.email, role }, o.org.slug);
  assert.equal(inv.statusCode, 201, inv.body);
  const mail = await lastMailTo(t.outboxDir, m.user.email);
  const token = tokenFrom(linkIn(mail.text, 'http://localhost:8484/invite'));
  const acc = await member.post('/api/v1/invitations/accept', { token });
  assert.ok(acc.statusCode === 200 || acc.statusCode === 201, acc.body);
  return { owner, o, member, m };
}

describe('mfa_required', () => {
  it('a member without org:update cannot turn it on (403), and a change is audited', async () => {
    const { owner, o, member } = await orgWithMember();
    const res = await member.req({
      method: 'PUT',
      url: '/api/v1/org/mfa',
      body: { mfa_required: true },
      org: o.org.slug,
    });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'forbidden');
    assert.equal((await owner.get('/api/v1/org/mfa', o.org.slug)).json().mfa_required, false);
    // The owner needs a factor of their own first.
    const bare = await owner.req({
      method: 'PUT',
      url: '/api/v1/org/mfa',
      body: { mfa_required: true },
      org: o.org.slug,
    });
    assert.equal(bare.statusCode, 403);
    assert.equal(bare.json().code, 'mfa_enrolment_required');
    await enrolTotp(owner);
    const on = await owner.req({
      method: 'PUT',
      url: '/api/v1/org/mfa',
      body: { mfa_required: true, grace_days: 3 },
      org: o.org.slug,
    });
    assert.equal(on.statusCode, 200, on.body);
    assert.equal(on.json().grace_days, 3);
    const audited = await t.deps.db
      .selectFrom('audit_events')
      .select(['action', 'data'])
      .where('org_id', '=', o.org.id)
      .where('action', '=', 'org.mfa_policy_changed')
      .execute();
    assert.equal(audited.length, 1);
    // Bad input changes nothing.
    const bad = await owner.req({
      method: 'PUT',
      url: '/api/v1/org/mfa',
      body: { mfa_required: false, grace_days: 400 },
      org: o.org.slug,
    });
    assert.equal(bad.statusCode, 400);
    assert.equal((await owner.get('/api/v1/org/mfa', o.org.slug)).json().mfa_required, true);
  });

  it('credentials of members without a factor work through the grace period, then are refused in that org only', async () => {
    const { owner, o, member, m } = await orgWithMember();
    const pat = await member.post('/api/v1/tokens', { name: 'script', scopes: ['org:read', 'members:read'] });
    assert.equal(pat.statusCode, 201, pat.body);
    const bearer = { authorization: `Bearer ${pat.json().token as string}`, 'x-org-id': o.org.slug };
    await enrolTotp(owner);
    const on = await owner.req({
      method: 'PUT',
      url: '/api/v1/org/mfa',
      body: { mfa_required: true, grace_days: 2 },
      org: o.org.slug,
    });
    assert.equal(on.statusCode, 200, on.body);
    assert.equal((await t.client().req({ url: '/api/v1/org/members', headers: bearer })).statusCode, 200);
    assert.equal((await member.get('/api/v1/org/members', o.org.slug)).statusCode, 200);

    clock.advance(2 * DAY + MINUTE);
    const refused = await t.client().req({ url: '/api/v1/org/members', headers: bearer });
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.json().code, 'mfa_enrolment_required');
    assert.equal(refused.json().enrol_url, '/app/account/security');
    const session = await member.get('/api/v1/org/members', o.org.slug);
    assert.equal(session.json().code, 'mfa_enrolment_required');
    // Their own org is not affected, nor the account routes that let them enrol.
    assert.equal((await member.get('/api/v1/org/members', m.org.slug)).statusCode, 200);
    assert.equal((await member.get('/api/v1/me/mfa')).statusCode, 200);
    // The owner, who has a factor, is not refused.
    assert.equal((await owner.get('/api/v1/org/members', o.org.slug)).statusCode, 200);

    // Enrolling lets the member back in; removing the last factor is then refused.
    await enrolTotp(member);
    assert.equal((await member.get('/api/v1/org/members', o.org.slug)).statusCode, 200);
    assert.equal((await t.client().req({ url: '/api/v1/org/members', headers: bearer })).statusCode, 200);
    const off = await member.delete('/api/v1/me/mfa/totp');
    assert.equal(off.statusCode, 409);
    assert.equal(off.json().code, 'mfa_required_by_org');
  });

  it('a member without a factor is walked through enrolment at the next sign-in', async () => {
    const { owner, o, m } = await orgWithMember();
    await enrolTotp(owner);
    await owner.req({ method: 'PUT', url: '/api/v1/org/mfa', body: { mfa_required: true }, org: o.org.slug });
    const c = t.client();
    const res = await c.post('/api/auth/signin', { email: m.user.email, password: DEFAULT_PASSWORD });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().second_factor, 'enrol');
    assert.equal((await c.get('/api/v1/me')).json().code, 'second_factor_required');
    const state = await c.get('/api/auth/second-factor');
    assert.equal(state.json().state, 'enrol');
    // A code cannot skip it.
    assert.equal(
      (await c.post('/api/auth/second-factor', { method: 'totp', code: '123456' })).statusCode,
      400,
    );

    const page = await c.req({ url: '/login/second-factor?return_to=%2Fapp%2F' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /requires<\/?[^>]*>? a second factor|requires a second factor/);
    assert.match(page.body, /<svg[^>]*>[\s\S]*<\/svg>/);
    const secret = /Enter this key: <code>([A-Z2-7 ]+)<\/code>/.exec(page.body)![1]!.replace(/ /g, '');
    const form = formOf(page.body);
    assert.equal(form.action, '/login/second-factor/enrol');
    const done = await c.req({
      method: 'POST',
      url: form.action,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, code: totpCode(secret, clock.now()) }).toString(),
    });
    assert.equal(done.statusCode, 200, done.body);
    assert.match(done.body, /Save your recovery codes/);
    assert.equal(/<pre class="recovery-codes">([\s\S]*?)<\/pre>/.exec(done.body)![1]!.split('\n').length, 10);
    const me = await c.get('/api/v1/me');
    assert.equal(me.statusCode, 200);
    assert.equal((await c.get('/api/v1/org/members', o.org.slug)).statusCode, 200);
  });
});
