import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { HOUR, manualClock } from '../../src/lib/clock.js';
import { issueTokens } from '../../src/oauth/store/tokens.js';
import {
  type Client,
  DEFAULT_PASSWORD,
  followLink,
  formOf,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  readOutbox,
  type TestServer,
  testServer,
  tokenFrom,
  uniqueEmail,
} from '../helpers/harness.js';
import { plantToken } from '../helpers/planted-token.js';
import { form, MCP_URL, OAUTH_TOML, register } from '../oauth/helpers.js';

const clock = manualClock(new Date());
let t: TestServer;
before(async () => {
  t = await testServer({ clock, toml: OAUTH_TOML });
});
after(() => t.close());

const bearer = (token: string, url = '/api/v1/me') =>
  t.app.inject({ url, headers: { authorization: `Bearer ${token}` } });

async function verificationLink(email: string): Promise<string> {
  const mail = (await readOutbox(t.outboxDir)).filter(
    (m) => m.to === email && m.subject === 'Confirm your email address for Latchkey',
  );
  assert.ok(mail.length > 0, `a verification mail went to ${email}`);
  return linkIn(mail[mail.length - 1]!.text, `${PUBLIC_URL}/verify-email`);
}

async function verifiedAt(email: string) {
  const u = await t.deps.db
    .selectFrom('users')
    .select(['email_verified_at', 'password_hash'])
    .where('email', '=', email)
    .executeTakeFirstOrThrow();
  return u;
}

/**
 * A squatter's account, made with someone else's address and never verified, holding every kind
 * of credential. The PAT, org key and OAuth tokens are written straight to storage: an account
 * that has not proven its address may not mint them through the API, but accounts made before
 * that rule hold them, and the proof must end them all the same.
 */
async function squat(email: string) {
  const squatter = t.client();
  const { user, org } = await squatter.signup({ email, verify: false });
  const pat = await plantToken(t.deps.db, clock, {
    kind: 'pat',
    userId: user.id,
    name: 'squatter pat',
    scopes: ['account:read'],
  });
  const orgKey = await plantToken(t.deps.db, clock, {
    kind: 'org',
    userId: user.id,
    orgId: org.id,
    name: 'squatter org key',
    scopes: ['org:read'],
  });
  const client = await register(t);
  // The consent its OAuth tokens were issued for.
  const grantId = randomUUID();
  await t.deps.db
    .insertInto('oauth_grants')
    .values({
      id: grantId,
      user_id: user.id,
      org_id: org.id,
      client_id: client.client_id,
      resource: MCP_URL,
      scopes: JSON.stringify(['mcp:read']),
      created_at: clock.now(),
      updated_at: clock.now(),
    })
    .execute();
  const oauth = await issueTokens(
    t.deps.db,
    clock,
    { actor: 'system', ip: null, userAgent: null },
    {
      grantType: 'authorization_code',
      subject: {
        clientId: client.client_id,
        grantId,
        userId: user.id,
        orgId: org.id,
        resource: MCP_URL,
        scopes: ['mcp:read'],
      },
      refresh: true,
      tokenPrefix: 'lk',
    },
  );
  const refresh = (token: string) =>
    form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: token,
      client_id: client.client_id,
      resource: MCP_URL,
    });
  // Everything works while the address is unproven.
  assert.equal((await squatter.get('/api/v1/me')).statusCode, 200);
  assert.equal((await bearer(pat)).statusCode, 200, 'the PAT works');
  assert.equal((await bearer(orgKey, '/api/v1/org')).statusCode, 200, 'the org key works');
  const rotated = await refresh(oauth.refreshToken!);
  assert.equal(rotated.statusCode, 200, rotated.body);
  return {
    squatter,
    user,
    pat,
    orgKey,
    refreshToken: rotated.json().refresh_token as string,
    refresh,
  };
}

async function assertSquatterLockedOut(s: Awaited<ReturnType<typeof squat>>, email: string) {
  assert.equal((await s.squatter.get('/api/v1/me')).statusCode, 401, "the squatter's session ended");
  assert.equal((await bearer(s.pat)).statusCode, 401, "the squatter's PAT is revoked");
  assert.equal(
    (await bearer(s.orgKey, '/api/v1/org')).statusCode,
    401,
    'the org key the squatter minted is revoked',
  );
  const signin = await t.client().post('/api/auth/signin', { email, password: DEFAULT_PASSWORD });
  assert.equal(signin.statusCode, 401, 'the unproven password is gone');
  assert.equal(signin.json().code, 'invalid_credentials');
  const refreshed = await s.refresh(s.refreshToken);
  assert.equal(refreshed.statusCode, 400, "the squatter's OAuth refresh token is revoked");
  assert.equal(refreshed.json().error, 'invalid_grant');
}

describe('an address proven on an account that never proved it ends its maker’s credentials (issue 15 row 6)', () => {
  it('the real owner signs in by magic link: the squatter’s session, PAT, org key, password and refresh token stop working', async () => {
    const email = uniqueEmail('owner');
    const s = await squat(email);

    const owner = t.client();
    assert.equal((await owner.post('/api/auth/magic-link', { email })).statusCode, 202);
    const link = linkIn(
      (await lastMailTo(t.outboxDir, email)).text,
      `${PUBLIC_URL}/api/auth/magic-link/callback`,
    );
    assert.equal((await followLink(owner, link)).statusCode, 303);
    assert.equal((await owner.get('/api/v1/me')).json().user.id, s.user.id, 'the owner holds the account');

    await assertSquatterLockedOut(s, email);
    const row = await verifiedAt(email);
    assert.ok(row.email_verified_at);
    assert.equal(row.password_hash, null);
    const ev = await t.deps.db
      .selectFrom('audit_events')
      .select('data')
      .where('action', '=', 'user.email_verified')
      .where('target', '=', `user:${s.user.id}`)
      .executeTakeFirstOrThrow();
    const data = (typeof ev.data === 'string' ? JSON.parse(ev.data) : ev.data) as Record<string, unknown>;
    assert.equal(data.by, 'magic_link');
    assert.equal(data.password_cleared, true);
    assert.equal(data.revoked_sessions, 1);
    assert.equal(data.revoked_grants, 1, "the squatter's consent, which its OAuth tokens came from");
  });

  it('the real owner confirms the verification link the squatter’s sign-up mailed them: same outcome, and nobody is signed in by it', async () => {
    const email = uniqueEmail('mailed');
    const s = await squat(email);
    const owner = t.client();
    const res = await followLink(owner, await verificationLink(email));
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /Address confirmed/);
    assert.equal(owner.cookie, null, 'confirming signs no one in');
    await assertSquatterLockedOut(s, email);
    assert.ok((await verifiedAt(email)).email_verified_at);
  });

  it('an account that already proved its address keeps everything when a magic link signs in again', async () => {
    const c = t.client();
    const { user } = await c.signup();
    const other = t.client();
    assert.equal((await other.post('/api/auth/magic-link', { email: user.email })).statusCode, 202);
    const link = linkIn(
      (await lastMailTo(t.outboxDir, user.email)).text,
      `${PUBLIC_URL}/api/auth/magic-link/callback`,
    );
    assert.equal((await followLink(other, link)).statusCode, 303);
    assert.equal((await c.get('/api/v1/me')).statusCode, 200, 'the first session still works');
    const signin = await t
      .client()
      .post('/api/auth/signin', { email: user.email, password: DEFAULT_PASSWORD });
    assert.equal(signin.statusCode, 200, 'the password still works');
  });
});

describe('the verification link of a password sign-up', () => {
  it('is mailed at sign-up; its GET is a page with one button that changes nothing; the POST from the signed-up browser verifies and keeps the session and password', async () => {
    const c = t.client();
    const email = uniqueEmail('verify');
    await c.signup({ email, verify: false, name: '<b>Eve</b>' });
    const mail = await lastMailTo(t.outboxDir, email);
    assert.ok(!mail.html.includes('<b>Eve</b>'), 'the name is escaped in the mail');
    assert.ok(mail.html.includes('&#60;b&#62;Eve&#60;/b&#62;'));
    const link = await verificationLink(email);
    const url = link.slice(PUBLIC_URL.length);
    for (let i = 0; i < 2; i++) {
      const page = await t.client().get(url);
      assert.equal(page.statusCode, 200);
      assert.deepEqual(formOf(page.body), { action: '/verify-email', fields: { token: tokenFrom(link) } });
    }
    assert.equal(
      (await verifiedAt(email)).email_verified_at,
      null,
      'a GET (a mail scanner) verifies nothing',
    );

    const res = await followLink(c, link);
    assert.equal(res.statusCode, 200);
    assert.ok((await verifiedAt(email)).email_verified_at);
    assert.equal((await c.get('/api/v1/me')).statusCode, 200, 'the session that signed up still works');
    const signin = await t.client().post('/api/auth/signin', { email, password: DEFAULT_PASSWORD });
    assert.equal(signin.statusCode, 200, 'the password still works');

    const again = await followLink(t.client(), link);
    assert.equal(again.statusCode, 400, 'single use');
    const replay = await c.req({
      method: 'POST',
      url: '/verify-email',
      body: new URLSearchParams({ token: tokenFrom(link) }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(replay.statusCode, 400);
  });

  it('expires after 24 hours', async () => {
    const email = uniqueEmail('late');
    await t.client().signup({ email, verify: false });
    const link = await verificationLink(email);
    clock.advance(24 * HOUR + 1);
    assert.equal((await followLink(t.client(), link)).statusCode, 400);
    assert.equal((await verifiedAt(email)).email_verified_at, null);
  });

  it('a cross-site POST of the button is refused (CSRF)', async () => {
    const email = uniqueEmail('csrf');
    const c = t.client();
    await c.signup({ email, verify: false });
    const res = await c.req({
      method: 'POST',
      url: '/verify-email',
      body: new URLSearchParams({ token: tokenFrom(await verificationLink(email)) }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
    });
    assert.equal(res.statusCode, 403);
    assert.equal((await verifiedAt(email)).email_verified_at, null);
  });

  it('malformed tokens get a 4xx page, never a 5xx', async () => {
    for (const url of [
      '/verify-email',
      '/verify-email?token=',
      `/verify-email?token=${'x'.repeat(500)}`,
      '/verify-email?token=nope',
    ]) {
      const r = await t.client().get(url);
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${url} → ${r.statusCode}`);
    }
  });

  describe('POST /api/auth/verify-email/resend', () => {
    let c: Client;
    let email: string;
    before(async () => {
      c = t.client();
      email = uniqueEmail('resend');
      await c.signup({ email, verify: false });
    });

    it('mails a fresh working link to the signed-in person, at most 3 an hour (then 429)', async () => {
      const count = async () => (await readOutbox(t.outboxDir)).filter((m) => m.to === email).length;
      const before0 = await count();
      for (let i = 0; i < 3; i++) {
        const r = await c.post('/api/auth/verify-email/resend');
        assert.equal(r.statusCode, 202, r.body);
      }
      assert.equal(await count(), before0 + 3);
      const limited = await c.post('/api/auth/verify-email/resend');
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.json().code, 'rate_limited');
      assert.ok(Number(limited.headers['retry-after']) > 0);
      assert.equal(await count(), before0 + 3, 'no mail when throttled');
      assert.equal((await followLink(c, await verificationLink(email))).statusCode, 200);
      assert.ok((await verifiedAt(email)).email_verified_at);
    });

    it('answers 409 once the address is verified, and 401 without a session', async () => {
      const done = await c.post('/api/auth/verify-email/resend');
      assert.equal(done.statusCode, 409);
      assert.equal(done.json().code, 'conflict');
      const anon = await t.client().post('/api/auth/verify-email/resend');
      assert.equal(anon.statusCode, 401);
    });
  });
});

describe('accepting an invitation proves the address of the signed-in invitee', () => {
  it('marks it verified and ends nothing: the invitee is the account’s own holder', async () => {
    const owner = t.client();
    const { org } = await owner.signup();
    const invitee = t.client();
    const email = uniqueEmail('invitee');
    await invitee.signup({ email, verify: false });
    const inv = await owner.post('/api/v1/org/invitations', { email, role: 'member' }, org.id);
    assert.equal(inv.statusCode, 201, inv.body);
    const token = tokenFrom(linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/invite`));
    const ok = await invitee.post('/api/v1/invitations/accept', { token });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.ok((await verifiedAt(email)).email_verified_at);
    assert.equal((await invitee.get('/api/v1/me')).statusCode, 200, 'the session still works');
    const signin = await t.client().post('/api/auth/signin', { email, password: DEFAULT_PASSWORD });
    assert.equal(signin.statusCode, 200, 'the password still works');
  });
});
