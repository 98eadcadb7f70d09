import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { totpCode, TOTP_PERIOD_SECONDS } from '../../../src/accounts/mfa/totp.js';
import { MINUTE, manualClock } from '../../../src/lib/clock.js';
import { type Client, DEFAULT_PASSWORD, formOf, type TestServer, testServer } from '../../helpers/harness.js';

// A step boundary, so "one step later" is unambiguous.
const clock = manualClock(new Date('2026-12-05T06:00:00Z'));
let t: TestServer;
before(async () => {
  t = await testServer({ clock });
});
after(() => t.close());

const STEP = TOTP_PERIOD_SECONDS * 1000;

/** Signs up, enrols TOTP from this session; returns the secret and recovery codes. */
async function enrolled(c: Client) {
  const acct = await c.signup();
  const start = await c.post('/api/v1/me/mfa/totp');
  assert.equal(start.statusCode, 200, start.body);
  const { secret, qr_svg, otpauth_uri } = start.json() as {
    secret: string;
    qr_svg: string;
    otpauth_uri: string;
  };
  assert.match(qr_svg, /^<svg[\s\S]*<\/svg>\s*$/);
  assert.match(otpauth_uri, /^otpauth:\/\/totp\//);
  const confirm = await c.post('/api/v1/me/mfa/totp/confirm', { code: totpCode(secret, clock.now()) });
  assert.equal(confirm.statusCode, 200, confirm.body);
  const codes = confirm.json().recovery_codes as string[];
  assert.equal(codes.length, 10);
  // Later proofs in these tests use later steps: a code is accepted once.
  clock.advance(STEP);
  return { ...acct, secret, codes };
}

async function passwordSignIn(c: Client, email: string) {
  const res = await c.post('/api/auth/signin', { email, password: DEFAULT_PASSWORD });
  assert.equal(res.statusCode, 200, res.body);
  return res;
}

describe('TOTP second factor at sign-in', () => {
  it('the first factor alone yields a pending sign-in that is refused as a session on the API', async () => {
    const { user, org } = await enrolled(t.client());
    const c = t.client();
    const signin = await passwordSignIn(c, user.email);
    assert.equal(signin.json().second_factor, 'second_factor');
    assert.ok(c.cookie?.startsWith('p.'), 'a pending cookie');
    const me = await c.get('/api/v1/me');
    assert.equal(me.statusCode, 401);
    assert.equal(me.json().code, 'second_factor_required');
    const members = await c.get('/api/v1/org/members', org.slug);
    assert.equal(members.statusCode, 401);
    // The same value sent as a bearer token is no credential either.
    const bearer = await t
      .client()
      .req({ url: '/api/v1/me', headers: { authorization: `Bearer ${c.cookie}` } });
    assert.equal(bearer.statusCode, 401);
    // Pages send the browser to finish it.
    const page = await c.req({ url: '/app/tokens', headers: { accept: 'text/html' } });
    assert.equal(page.statusCode, 303);
    assert.equal(page.headers.location, '/login/second-factor?return_to=%2Fapp%2Ftokens');
    const state = await c.get('/api/auth/second-factor');
    assert.equal(state.statusCode, 200);
    assert.deepEqual(state.json().methods, ['totp', 'recovery_code']);
    // Not a session in the list either.
    const rows = await t.deps.db
      .selectFrom('sessions')
      .select(['pending', 'amr'])
      .where('user_id', '=', user.id)
      .execute();
    assert.ok(rows.some((r) => r.pending === 'second_factor'));
  });

  it('a wrong code, a replayed code and a code outside ±1 step are refused; the right one finishes with amr pwd+otp+mfa', async () => {
    const { user, secret } = await enrolled(t.client());
    const c = t.client();
    await passwordSignIn(c, user.email);
    const pendingCookie = c.cookie;

    const wrong = await c.post('/api/auth/second-factor', {
      method: 'totp',
      code: '000000' === totpCode(secret, clock.now()) ? '111111' : '000000',
    });
    assert.equal(wrong.statusCode, 400);
    assert.equal(wrong.json().code, 'invalid_code');
    assert.equal(c.cookie, pendingCookie, 'still pending');

    const tooOld = await c.post('/api/auth/second-factor', {
      method: 'totp',
      code: totpCode(secret, new Date(clock.now().getTime() - 2 * STEP)),
    });
    assert.equal(tooOld.json().code, 'invalid_code');
    const tooNew = await c.post('/api/auth/second-factor', {
      method: 'totp',
      code: totpCode(secret, new Date(clock.now().getTime() + 2 * STEP)),
    });
    assert.equal(tooNew.json().code, 'invalid_code');

    // One step behind is within the window (the enrolment used an older step).
    clock.advance(2 * STEP);
    const code = totpCode(secret, new Date(clock.now().getTime() - STEP));
    const ok = await c.post('/api/auth/second-factor', { method: 'totp', code });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json().amr, ['pwd', 'otp', 'mfa']);
    assert.ok(c.cookie && !c.cookie.startsWith('p.'));
    assert.equal((await c.get('/api/v1/me')).statusCode, 200);

    // The same code, replayed in another sign-in within its window, is refused.
    const d = t.client();
    await passwordSignIn(d, user.email);
    const replay = await d.post('/api/auth/second-factor', { method: 'totp', code });
    assert.equal(replay.statusCode, 400);
    assert.equal(replay.json().code, 'invalid_code');
    // So is an older code than the one used.
    const older = await d.post('/api/auth/second-factor', {
      method: 'totp',
      code: totpCode(secret, new Date(clock.now().getTime() - STEP)),
    });
    assert.equal(older.json().code, 'invalid_code');
    // Failures are on the record.
    const failed = await t.deps.db
      .selectFrom('audit_events')
      .select('action')
      .where('target', '=', `user:${user.id}`)
      .where('action', '=', 'user.second_factor_failed')
      .execute();
    assert.ok(failed.length >= 4);
  });

  it('a recovery code works once; a second use is refused', async () => {
    const { user, codes } = await enrolled(t.client());
    const c = t.client();
    await passwordSignIn(c, user.email);
    const ok = await c.post('/api/auth/second-factor', {
      method: 'recovery_code',
      code: codes[0]!.toUpperCase(),
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().recovery_codes_left, 9);
    const d = t.client();
    await passwordSignIn(d, user.email);
    const again = await d.post('/api/auth/second-factor', { method: 'recovery_code', code: codes[0] });
    assert.equal(again.statusCode, 400);
    assert.equal(again.json().code, 'invalid_code');
    assert.equal((await d.get('/api/v1/me')).statusCode, 401);
  });

  it('the pending sign-in expires after 10 minutes', async () => {
    const { user, secret } = await enrolled(t.client());
    const c = t.client();
    await passwordSignIn(c, user.email);
    clock.advance(10 * MINUTE + 1000);
    const late = await c.post('/api/auth/second-factor', {
      method: 'totp',
      code: totpCode(secret, clock.now()),
    });
    assert.equal(late.statusCode, 401);
    assert.equal(late.json().code, 'second_factor_required');
  });

  it('wrong codes are throttled per account', async () => {
    const { user, secret } = await enrolled(t.client());
    const c = t.client();
    await passwordSignIn(c, user.email);
    const right = totpCode(secret, clock.now());
    const wrongCode = right === '123456' ? '654321' : '123456';
    let last = 0;
    for (let i = 0; i < 11; i++)
      last = (await c.post('/api/auth/second-factor', { method: 'totp', code: wrongCode })).statusCode;
    assert.equal(last, 429);
    const blocked = await c.post('/api/auth/second-factor', { method: 'totp', code: right });
    assert.equal(blocked.statusCode, 429);
  });

  it('the server-rendered page finishes a sign-in with a code and returns to where the browser was going', async () => {
    const { user, secret } = await enrolled(t.client());
    const c = t.client();
    await passwordSignIn(c, user.email);
    const page = await c.req({ url: '/login/second-factor?return_to=%2Fapp%2Ftokens' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Code from your authenticator app/);
    assert.match(page.headers['content-security-policy'] as string, /script-src 'self'/);
    const wrong = await c.req({
      method: 'POST',
      url: '/login/second-factor',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ method: 'totp', code: 'abc', return_to: '/app/tokens' }).toString(),
    });
    assert.equal(wrong.statusCode, 400);
    assert.match(wrong.body, /role="alert"/);
    const ok = await c.req({
      method: 'POST',
      url: '/login/second-factor',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        method: 'totp',
        code: totpCode(secret, clock.now()),
        return_to: '/app/tokens',
      }).toString(),
    });
    assert.equal(ok.statusCode, 303, ok.body);
    assert.equal(ok.headers.location, '/app/tokens');
    assert.equal((await c.get('/api/v1/me')).statusCode, 200);
  });
});

describe('managing TOTP and step-up', () => {
  it('disabling two-factor and new recovery codes need a proof within 10 minutes (step_up_required)', async () => {
    const c = t.client();
    const { secret } = await enrolled(c);
    // Enrolment proved the factor: within 10 minutes new codes are allowed.
    const fresh = await c.post('/api/v1/me/mfa/recovery-codes');
    assert.equal(fresh.statusCode, 200, fresh.body);
    clock.advance(10 * MINUTE + 1000);
    const stale = await c.post('/api/v1/me/mfa/recovery-codes');
    assert.equal(stale.statusCode, 403);
    assert.equal(stale.json().code, 'step_up_required');
    assert.deepEqual(stale.json().methods, ['totp', 'recovery_code']);
    assert.equal(stale.json().step_up_url, '/api/v1/me/step-up');
    const off = await c.delete('/api/v1/me/mfa/totp');
    assert.equal(off.json().code, 'step_up_required');
    // A passkey cannot be added either.
    assert.equal((await c.post('/api/v1/me/passkeys/options')).json().code, 'step_up_required');

    const bad = await c.post('/api/v1/me/step-up', { method: 'totp', code: '12345' });
    assert.equal(bad.json().code, 'invalid_code');
    const up = await c.post('/api/v1/me/step-up', { method: 'totp', code: totpCode(secret, clock.now()) });
    assert.equal(up.statusCode, 200, up.body);
    assert.ok(up.json().amr.includes('otp'));
    assert.equal((await c.delete('/api/v1/me/mfa/totp')).statusCode, 204);
    const state = await c.get('/api/v1/me/mfa');
    assert.equal(state.json().totp.enabled, false);
    assert.equal(state.json().recovery_codes.remaining, 0);
    // Without a factor, sign-in is one step again.
    const d = t.client();
    const res = await d.post('/api/auth/signin', {
      email: (await c.get('/api/v1/me')).json().user.email,
      password: DEFAULT_PASSWORD,
    });
    assert.equal(res.statusCode, 200);
    assert.equal((await d.get('/api/v1/me')).statusCode, 200);
  });

  it('the step-up page re-proves the factor in a browser and returns', async () => {
    const c = t.client();
    const { secret } = await enrolled(c);
    clock.advance(10 * MINUTE + 1000);
    assert.equal((await c.post('/api/v1/me/mfa/recovery-codes')).json().code, 'step_up_required');
    const page = await c.get('/login/second-factor?step_up=1&return_to=%2Fapp%2Faccount%2Fsecurity');
    assert.equal(page.statusCode, 200);
    const form = formOf(page.body);
    assert.equal(form.action, '/login/second-factor/step-up');
    const post = (code: string) =>
      c.req({
        method: 'POST',
        url: form.action,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form.fields, code }).toString(),
      });
    const wrong = await post('000000' === totpCode(secret, clock.now()) ? '111111' : '000000');
    assert.equal(wrong.statusCode, 400);
    assert.match(wrong.body, /role="alert"/);
    const ok = await post(totpCode(secret, clock.now()));
    assert.equal(ok.statusCode, 303);
    assert.equal(ok.headers.location, '/app/account/security');
    assert.equal((await c.post('/api/v1/me/mfa/recovery-codes')).statusCode, 200);
    // Without a session, the step-up form changes nothing.
    const anon = await t.client().req({
      method: 'POST',
      url: form.action,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, code: totpCode(secret, clock.now()) }).toString(),
    });
    assert.equal(anon.statusCode, 400);
  });

  it('a personal access token cannot take part: the account routes take only a browser session', async () => {
    const c = t.client();
    await enrolled(c);
    const pat = await c.post('/api/v1/tokens', { name: 'acct', scopes: ['account:write'] });
    assert.equal(pat.statusCode, 201, pat.body);
    const token = pat.json().token as string;
    const res = await t
      .client()
      .req({ method: 'DELETE', url: '/api/v1/me/mfa/totp', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'session_required');
  });

  it('regenerating recovery codes invalidates the old ones', async () => {
    const c = t.client();
    const { user, codes } = await enrolled(c);
    const fresh = await c.post('/api/v1/me/mfa/recovery-codes');
    assert.equal(fresh.statusCode, 200);
    const d = t.client();
    await passwordSignIn(d, user.email);
    assert.equal(
      (await d.post('/api/auth/second-factor', { method: 'recovery_code', code: codes[1] })).json().code,
      'invalid_code',
    );
    const ok = await d.post('/api/auth/second-factor', {
      method: 'recovery_code',
      code: (fresh.json().recovery_codes as string[])[1],
    });
    assert.equal(ok.statusCode, 200);
  });

  it('stores the TOTP secret sealed, bound to its account', async () => {
    const c = t.client();
    const { user, secret } = await enrolled(c);
    const row = await t.deps.db
      .selectFrom('totp_factors')
      .select('secret')
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    assert.ok(row.secret.startsWith('lk1.'));
    assert.ok(!row.secret.includes(secret));
    // Copied to another account's row, it does not open there: that account's codes fail closed.
    const other = t.client();
    const o = await enrolled(other);
    await t.deps.db
      .updateTable('totp_factors')
      .set({ secret: row.secret })
      .where('user_id', '=', o.user.id)
      .execute();
    const d = t.client();
    await passwordSignIn(d, o.user.email);
    const res = await d.post('/api/auth/second-factor', {
      method: 'totp',
      code: totpCode(secret, clock.now()),
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'invalid_code');
    assert.equal((await d.get('/api/v1/me')).statusCode, 401);
  });

  it('stores only hashes of recovery codes', async () => {
    const c = t.client();
    const { user, codes } = await enrolled(c);
    const rows = await t.deps.db
      .selectFrom('recovery_codes')
      .select('code_hash')
      .where('user_id', '=', user.id)
      .execute();
    assert.equal(rows.length, 10);
    for (const r of rows) assert.ok(!codes.some((code) => r.code_hash.includes(code.replace('-', ''))));
  });
});
