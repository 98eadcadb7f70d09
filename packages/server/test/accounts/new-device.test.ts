import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { totpCode, TOTP_PERIOD_SECONDS } from '../../src/accounts/mfa/totp.js';
import { manualClock } from '../../src/lib/clock.js';
import { sha256Hex } from '../../src/lib/secrets.js';
import {
  type Client,
  DEFAULT_PASSWORD,
  followLink,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  readOutbox,
  type TestServer,
  testServer,
  uniqueEmail,
} from '../helpers/harness.js';
import {
  type EventPayload,
  type Receiver,
  startReceiver,
  waitFor,
  WEBHOOK_ENV,
} from '../webhooks/helpers.js';

const ADMIN_TOKEN = 'new-device-break-glass-0123456789-abcdefgh';
const SUBJECT = 'New sign-in to your Latchkey account';
const STEP = TOTP_PERIOD_SECONDS * 1000;

const clock = manualClock(new Date('2026-12-05T06:00:00Z'));
let t: TestServer;
let receiver: Receiver;
let instanceEndpoint: string;
before(async () => {
  receiver = await startReceiver();
  t = await testServer({ clock, env: { ...WEBHOOK_ENV, ADMIN_TOKEN } });
  const res = await t.client().req({
    method: 'POST',
    url: '/api/v1/admin/webhooks',
    body: { url: receiver.url, events: ['user.new_device_signin'] },
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  assert.equal(res.statusCode, 201, res.body);
  instanceEndpoint = res.json().id as string;
});
after(async () => {
  await t.close();
  await receiver.close();
});

/** The device cookie a response sets, or throws. */
function deviceOf(res: LightMyRequestResponse): string {
  const d = res.cookies.find((c) => c.name === 'lk_device')?.value;
  assert.ok(d, 'a device cookie is set');
  return d;
}

const UA = 'Mozilla/5.0 (X11; Linux x86_64) NewDeviceTest/1.0';

/** Password sign-in from `c`, presenting `device` (a device cookie) when given. */
async function signin(c: Client, email: string, device?: string, password = DEFAULT_PASSWORD) {
  return c.req({
    method: 'POST',
    url: '/api/auth/signin',
    body: { email, password },
    headers: { 'user-agent': UA, ...(device ? { cookie: `lk_device=${device}` } : {}) },
  });
}

async function eventsOf(userId: string) {
  return t.deps.db
    .selectFrom('audit_events')
    .selectAll()
    .where('action', '=', 'user.new_device_signin')
    .where('target', '=', `user:${userId}`)
    .orderBy('id')
    .execute();
}

async function noticesTo(email: string) {
  return (await readOutbox(t.outboxDir)).filter((m) => m.to === email && m.subject === SUBJECT);
}

/** A person with one browser (`home`, its device cookie `homeDevice`) the account signed in from. */
async function personAtHome() {
  const acct = await t.client().signup();
  const home = t.client();
  const first = await signin(home, acct.user.email);
  assert.equal(first.statusCode, 200, first.body);
  return { ...acct, home, homeDevice: deviceOf(first) };
}

describe('sign-in from a new device', () => {
  it('sign-up and the first browser an account signs in from are not news', async () => {
    const { user } = await personAtHome();
    assert.equal((await eventsOf(user.id)).length, 0);
    assert.equal((await noticesTo(user.email)).length, 0);
  });

  it('the same browser signing in again is not news', async () => {
    const { user, home, homeDevice } = await personAtHome();
    for (let i = 0; i < 2; i++) {
      const again = await signin(home, user.email, homeDevice);
      assert.equal(again.statusCode, 200, again.body);
      assert.equal(deviceOf(again), homeDevice, 'the browser keeps its device cookie');
    }
    assert.equal((await eventsOf(user.id)).length, 0);
    assert.equal((await noticesTo(user.email)).length, 0);
  });

  it('a wrong password from a new browser is no sign-in: no event, no mail', async () => {
    const { user } = await personAtHome();
    const res = await signin(t.client(), user.email, undefined, 'not the passphrase at all');
    assert.equal(res.statusCode, 401);
    assert.equal((await eventsOf(user.id)).length, 0);
    assert.equal((await noticesTo(user.email)).length, 0);
  });

  it('a made-up device cookie, or one another account knows, does not pass as a known browser', async () => {
    const { user } = await personAtHome();
    const other = await personAtHome();
    const invented = 'A'.repeat(43);
    assert.equal((await signin(t.client(), user.email, invented)).statusCode, 200);
    assert.equal((await signin(t.client(), user.email, other.homeDevice)).statusCode, 200);
    assert.equal((await eventsOf(user.id)).length, 2);
    assert.equal((await noticesTo(user.email)).length, 2);
    assert.equal((await eventsOf(other.user.id)).length, 0, "nothing about the cookie's own account");
  });

  it('a password sign-in from a fresh browser: one audit event and one mail, without the cookie', async () => {
    const { user, org, home, homeDevice } = await personAtHome();
    const away = t.client();
    const res = await signin(away, user.email);
    assert.equal(res.statusCode, 200, res.body);
    const awayDevice = deviceOf(res);
    assert.notEqual(awayDevice, homeDevice);

    const events = await eventsOf(user.id);
    assert.equal(events.length, 1);
    const e = events[0]!;
    assert.equal(e.org_id, null, 'about the account, not an org');
    assert.equal(e.actor, `user:${user.id}`);
    assert.deepEqual(e.data, { method: 'password', ip: away.ip, user_agent: UA });
    const row = JSON.stringify(e);
    for (const secret of [awayDevice, sha256Hex(awayDevice), away.cookie!])
      assert.ok(!row.includes(secret), 'the event holds no device cookie, hash or session');

    const mails = await noticesTo(user.email);
    assert.equal(mails.length, 1);
    const m = mails[0]!;
    assert.match(m.text, /2026-12-05 06:00:00 UTC/);
    assert.ok(m.text.includes(away.ip), 'names the IP');
    assert.ok(m.text.includes(UA), 'names the browser');
    assert.match(m.text, /If this was not you/);
    assert.equal(linkIn(m.text, PUBLIC_URL), `${PUBLIC_URL}/app/account`, 'links the sessions page');
    for (const secret of [awayDevice, sha256Hex(awayDevice), away.cookie!])
      assert.ok(!m.text.includes(secret) && !m.html.includes(secret), 'the mail holds no secret');

    // That browser is known from now on; the home one still is.
    assert.equal((await signin(away, user.email, awayDevice)).statusCode, 200);
    assert.equal((await signin(home, user.email, homeDevice)).statusCode, 200);
    assert.equal((await eventsOf(user.id)).length, 1);
    assert.equal((await noticesTo(user.email)).length, 1);

    // The instance webhook hears it; the person's org webhook does not (it is not an org's event).
    const orgHook = await home.post('/api/v1/org/webhooks', { url: receiver.url, events: ['*'] }, org.id);
    assert.equal(orgHook.statusCode, 201, orgHook.body);
    assert.equal((await signin(t.client(), user.email)).statusCode, 200);
    const [, second] = await eventsOf(user.id);
    assert.ok(second);
    // This file's clock is frozen in the past, so the payload is read without the timestamp check
    // that signature verification makes (signing is covered by the webhook tests).
    const payloads = () => receiver.received.map((r) => JSON.parse(r.body) as EventPayload);
    await waitFor('the instance endpoint receives the event', () =>
      payloads().some((p) => p.data.id === second.id),
    );
    const payload = payloads().find((p) => p.data.id === second.id)!;
    assert.equal(payload.type, 'user.new_device_signin');
    assert.equal(payload.data.target, `user:${user.id}`);
    const deliveries = await t.deps.db
      .selectFrom('webhook_deliveries')
      .select(['endpoint_id'])
      .where('event_id', '=', second.id)
      .execute();
    assert.deepEqual(
      deliveries.map((d) => d.endpoint_id),
      [instanceEndpoint],
    );
  });

  it('a sign-in waiting for its second factor is nothing until the factor is proven', async () => {
    const c = t.client();
    const { user } = await c.signup();
    const start = await c.post('/api/v1/me/mfa/totp');
    assert.equal(start.statusCode, 200, start.body);
    const secret = start.json().secret as string;
    assert.equal(
      (await c.post('/api/v1/me/mfa/totp/confirm', { code: totpCode(secret, clock.now()) })).statusCode,
      200,
    );
    /** The first factor, then the code, from a browser holding `device` (if any). */
    const twoFactors = async (b: Client, device?: string) => {
      const first = await signin(b, user.email, device);
      assert.equal(first.json().second_factor, 'second_factor');
      const d = deviceOf(first);
      const pendingEvents = (await eventsOf(user.id)).length;
      const pendingMails = (await noticesTo(user.email)).length;
      clock.advance(STEP);
      const done = await b.req({
        method: 'POST',
        url: '/api/auth/second-factor',
        body: { method: 'totp', code: totpCode(secret, clock.now()) },
        headers: { 'user-agent': UA, cookie: `lk_session=${b.cookie}; lk_device=${d}` },
      });
      assert.equal(done.statusCode, 200, done.body);
      return { device: d, pendingEvents, pendingMails };
    };
    const home = await twoFactors(t.client());
    assert.equal((await eventsOf(user.id)).length, 0, 'the first browser is not news');

    const away = t.client();
    const first = await signin(away, user.email);
    assert.equal(first.json().second_factor, 'second_factor');
    // Abandoned at the second factor: nothing, and the browser is not remembered either.
    assert.equal((await eventsOf(user.id)).length, 0);
    assert.equal((await noticesTo(user.email)).length, 0);

    const later = await twoFactors(away, deviceOf(first));
    assert.equal(later.pendingEvents, 0, 'nothing while pending');
    assert.equal(later.pendingMails, 0);
    const events = await eventsOf(user.id);
    assert.equal(events.length, 1, 'the event once the second factor completes');
    assert.deepEqual(events[0]!.data, { method: 'second_factor', ip: away.ip, user_agent: UA });
    assert.equal((await noticesTo(user.email)).length, 1);

    // Both browsers are known now.
    await twoFactors(away, later.device);
    await twoFactors(t.client(), home.device);
    assert.equal((await eventsOf(user.id)).length, 1);
  });

  it('a magic-link sign-in from a fresh browser is news; one that creates the account is not', async () => {
    const requestLink = async (email: string) => {
      assert.equal((await t.client().post('/api/auth/magic-link', { email })).statusCode, 202);
      return linkIn(
        (await lastMailTo(t.outboxDir, email)).text,
        `${PUBLIC_URL}/api/auth/magic-link/callback`,
      );
    };
    const email = uniqueEmail('linked');
    const created = await followLink(t.client(), await requestLink(email));
    assert.equal(created.statusCode, 303, created.body);
    const mine = deviceOf(created);
    const userId = (
      await t.deps.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow()
    ).id;
    assert.equal((await eventsOf(userId)).length, 0, 'a sign-up by link is not news');

    const same = await followLink(t.client(), await requestLink(email), { cookie: `lk_device=${mine}` });
    assert.equal(same.statusCode, 303);
    assert.equal((await eventsOf(userId)).length, 0, 'the same browser again is not news');

    const away = t.client();
    const fresh = await followLink(away, await requestLink(email), { 'user-agent': UA });
    assert.equal(fresh.statusCode, 303);
    const events = await eventsOf(userId);
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.data, { method: 'magic_link', ip: away.ip, user_agent: UA });
    assert.equal((await noticesTo(email)).length, 1);
  });
});
