import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MINUTE, manualClock } from '../../src/lib/clock.js';
import {
  type Client,
  formOf,
  linkIn,
  PUBLIC_URL,
  readOutbox,
  type TestServer,
  testServer,
  tokenFrom,
  uniqueEmail,
} from '../helpers/harness.js';
import { bearer, mintPat } from '../tokens/helpers.js';

const clock = manualClock(new Date());
let t: TestServer;
before(async () => {
  t = await testServer({ clock });
});
after(() => t.close());

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const NEW_PASSWORD = 'another sturdy passphrase 7';

async function mailsTo(email: string) {
  return (await readOutbox(t.outboxDir)).filter((m) => m.to === email);
}

async function resetLinkFor(email: string): Promise<string> {
  const res = await t.client().post('/api/auth/password-reset', { email });
  assert.equal(res.statusCode, 202, res.body);
  const mail = (await mailsTo(email)).filter((m) => m.subject === 'Reset your Latchkey password').pop();
  assert.ok(mail, 'a reset link was mailed');
  return linkIn(mail.text, `${PUBLIC_URL}/reset-password`);
}

/** Opens the link's page and submits the form with these passwords. */
async function submit(c: Client, link: string, password: string, confirm = password) {
  const page = await c.get(link.slice(PUBLIC_URL.length));
  if (page.statusCode !== 200) return page;
  const form = formOf(page.body);
  return c.req({
    method: 'POST',
    url: form.action,
    body: new URLSearchParams({ ...form.fields, password, password_confirm: confirm }).toString(),
    headers: FORM,
  });
}

describe('password reset', () => {
  it('answers the same for an unknown address, and mails nothing', async () => {
    const { user } = await t.client().signup();
    const nobody = uniqueEmail('nobody');
    const known = await t.client().post('/api/auth/password-reset', { email: user.email });
    const unknown = await t.client().post('/api/auth/password-reset', { email: nobody });
    assert.equal(known.statusCode, 202);
    assert.equal(unknown.statusCode, 202);
    assert.equal(known.body, unknown.body);
    assert.equal((await mailsTo(nobody)).length, 0);
    // The page says the same too.
    const pages = await Promise.all(
      [user.email, nobody].map((email) =>
        t.client().req({
          method: 'POST',
          url: '/forgot-password',
          body: new URLSearchParams({ email }).toString(),
          headers: FORM,
        }),
      ),
    );
    assert.equal(pages[0]!.statusCode, 200);
    assert.equal(pages[0]!.body, pages[1]!.body);
  });

  it('resets once: ends every session and personal token, mails a notice, and the old password stops working', async () => {
    const c = t.client();
    const { user, password } = await c.signup();
    const pat = await mintPat(c);
    const other = t.client();
    assert.equal((await other.post('/api/auth/signin', { email: user.email, password })).statusCode, 200);
    const link = await resetLinkFor(user.email);

    // Opening the page changes nothing.
    assert.equal((await t.client().get(link.slice(PUBLIC_URL.length))).statusCode, 200);
    assert.equal((await c.get('/api/v1/me')).statusCode, 200);

    const done = await submit(t.client(), link, NEW_PASSWORD);
    assert.equal(done.statusCode, 200, done.body);
    assert.match(done.body, /Password changed/);
    assert.equal((await c.get('/api/v1/me')).statusCode, 401, 'the session ended');
    assert.equal((await other.get('/api/v1/me')).statusCode, 401, 'every session ended');
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/me' })).statusCode, 401, 'the PAT was revoked');
    const notice = (await mailsTo(user.email)).find(
      (m) => m.subject === 'Your Latchkey password was changed',
    );
    assert.ok(notice, 'the person is told');

    const old = await t.client().post('/api/auth/signin', { email: user.email, password });
    assert.equal(old.statusCode, 401);
    const fresh = await t.client().post('/api/auth/signin', { email: user.email, password: NEW_PASSWORD });
    assert.equal(fresh.statusCode, 200);

    // Reused: refused, and the password stays.
    const again = await submit(t.client(), link, 'a third sturdy passphrase 9');
    assert.equal(again.statusCode, 400);
    assert.match(again.body, /invalid, expired or already used/);
    const replay = await t.client().req({
      method: 'POST',
      url: '/reset-password',
      body: new URLSearchParams({
        token: tokenFrom(link),
        password: 'a third sturdy passphrase 9',
        password_confirm: 'a third sturdy passphrase 9',
      }).toString(),
      headers: FORM,
    });
    assert.equal(replay.statusCode, 400);
    const still = await t.client().post('/api/auth/signin', { email: user.email, password: NEW_PASSWORD });
    assert.equal(still.statusCode, 200);
  });

  it('refuses an expired link (after 30 minutes)', async () => {
    const { user, password } = await t.client().signup();
    const link = await resetLinkFor(user.email);
    clock.advance(31 * MINUTE);
    const res = await submit(t.client(), link, NEW_PASSWORD);
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /invalid, expired or already used/);
    const ok = await t.client().post('/api/auth/signin', { email: user.email, password });
    assert.equal(ok.statusCode, 200, 'nothing changed');
  });

  it('refuses a short, a breached or a mistyped password, and the link stays usable', async () => {
    const c = t.client();
    const { user } = await c.signup();
    const link = await resetLinkFor(user.email);
    for (const [pw, confirm, text] of [
      ['short1', 'short1', /at least 10 characters/],
      ['1234567890', '1234567890', /breached/],
      ['Basketball', 'Basketball', /breached/],
      [NEW_PASSWORD, `${NEW_PASSWORD}!`, /differ/],
    ] as const) {
      const res = await submit(t.client(), link, pw, confirm);
      assert.equal(res.statusCode, 400, pw);
      assert.match(res.body, text);
    }
    assert.equal((await c.get('/api/v1/me')).statusCode, 200, 'nothing ended');
    assert.equal((await submit(t.client(), link, NEW_PASSWORD)).statusCode, 200);
  });

  it('throttles per address (silently) and per IP (429)', async () => {
    const { user } = await t.client().signup();
    const ip = '10.200.1.1';
    const perAddress = t.client({ ip });
    for (let i = 0; i < 5; i++) {
      const res = await perAddress.post('/api/auth/password-reset', { email: user.email });
      assert.equal(res.statusCode, 202);
    }
    const sent = (await mailsTo(user.email)).filter((m) => m.subject === 'Reset your Latchkey password');
    assert.equal(sent.length, 3, 'at most three links an hour to one address');
    const c = t.client({ ip });
    let last = 202;
    for (let i = 0; i < 10 && last === 202; i++)
      last = (await c.post('/api/auth/password-reset', { email: uniqueEmail('x') })).statusCode;
    assert.equal(last, 429);
  });

  it('never writes the reset token to the log', async () => {
    const { user } = await t.client().signup();
    const link = await resetLinkFor(user.email);
    assert.equal((await followLinkPage(link)).statusCode, 200);
    await submit(t.client(), link, NEW_PASSWORD);
    const token = tokenFrom(link);
    assert.ok(!t.logs.some((l) => l.includes(token)));
  });

  it('refuses a malformed address on the page with 400', async () => {
    const res = await t.client().req({
      method: 'POST',
      url: '/forgot-password',
      body: new URLSearchParams({ email: 'nope' }).toString(),
      headers: FORM,
    });
    assert.equal(res.statusCode, 400);
  });
});

function followLinkPage(link: string) {
  return t.client().get(link.slice(PUBLIC_URL.length));
}
