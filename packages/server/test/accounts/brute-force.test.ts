import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACCOUNT_LIMITS } from '../../src/accounts/limits.js';
import { sha256Hex } from '../../src/lib/secrets.js';
import { DEFAULT_PASSWORD, type TestServer, testServer } from '../helpers/harness.js';

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

let ipCounter = 0;
const freshIp = () => `10.201.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}`;

/** One password sign-in from `ip`, with `cookie` (e.g. the device cookie) if given. */
function signin(email: string, password: string, ip = freshIp(), cookie?: string) {
  return t.app.inject({
    method: 'POST',
    url: '/api/auth/signin',
    payload: { email, password },
    remoteAddress: ip,
    headers: { origin: 'http://localhost:8484', ...(cookie ? { cookie } : {}) },
  });
}

/** Signs in once from a browser and returns its device cookie, as the browser would keep it. */
async function knownBrowser(email: string): Promise<string> {
  const res = await signin(email, DEFAULT_PASSWORD);
  assert.equal(res.statusCode, 200, res.body);
  const device = res.cookies.find((c) => c.name === 'lk_device');
  assert.ok(device?.value, 'a successful sign-in sets the device cookie');
  assert.equal(device.httpOnly, true);
  assert.ok((device.maxAge ?? 0) > 300 * 24 * 3600, 'long-lived');
  const stored = await t.deps.db.selectFrom('trusted_devices').select('device_hash').execute();
  assert.ok(
    stored.some((r) => r.device_hash === sha256Hex(device.value)),
    'its hash is stored',
  );
  assert.ok(
    stored.every((r) => r.device_hash !== device.value),
    'never the cookie itself',
  );
  return `lk_device=${device.value}`;
}

const GUESSES = ACCOUNT_LIMITS.signinFailuresPerAccount.points;

describe('brute-force protection never locks the owner out (issue 15 row 9)', () => {
  it('failures from many IPs throttle unknown browsers, but the browser that signed in before still gets in', async () => {
    const { user } = await t.client().signup();
    const device = await knownBrowser(user.email);
    // An attacker guesses from many IPs, each staying under its per-(account, IP) budget.
    for (let i = 0; i < GUESSES; i++) {
      const r = await signin(user.email, `wrong guess number ${i}`);
      assert.equal(r.statusCode, 401);
    }
    // A new IP without the device cookie: throttled, even with the right password.
    const blocked = await signin(user.email, DEFAULT_PASSWORD);
    assert.equal(blocked.statusCode, 429);
    assert.deepEqual(
      { code: blocked.json().code, detail: blocked.json().detail, status: blocked.json().status },
      { code: 'rate_limited', detail: 'Too many failed sign-ins; try again later.', status: 429 },
    );
    assert.ok(Number(blocked.headers['retry-after']) > 0);
    // The owner's browser (any IP) still signs in.
    const owner = await signin(user.email, DEFAULT_PASSWORD, freshIp(), device);
    assert.equal(owner.statusCode, 200, owner.body);
    assert.equal(owner.json().user.id, user.id);
  });

  it('the per-(account, IP) limit throttles one attacking IP without touching others', async () => {
    const { user } = await t.client().signup();
    const attackerIp = freshIp();
    const perIp = ACCOUNT_LIMITS.signinFailuresPerAccountIp.points;
    assert.ok(perIp < GUESSES, 'the per-(account, IP) budget is the tighter one');
    for (let i = 0; i < perIp; i++) {
      assert.equal((await signin(user.email, `wrong ${i}`, attackerIp)).statusCode, 401);
    }
    const stopped = await signin(user.email, DEFAULT_PASSWORD, attackerIp);
    assert.equal(stopped.statusCode, 429);
    assert.equal(stopped.json().code, 'rate_limited');
    // The account-wide budget is not spent yet: another IP with the right password gets in.
    assert.equal((await signin(user.email, DEFAULT_PASSWORD)).statusCode, 200);
  });

  it('a known browser has its own budget: guessing from it is throttled too', async () => {
    const { user } = await t.client().signup();
    const device = await knownBrowser(user.email);
    const perDevice = ACCOUNT_LIMITS.signinFailuresPerAccountDevice.points;
    for (let i = 0; i < perDevice; i++) {
      assert.equal((await signin(user.email, `wrong ${i}`, freshIp(), device)).statusCode, 401);
    }
    const stopped = await signin(user.email, DEFAULT_PASSWORD, freshIp(), device);
    assert.equal(stopped.statusCode, 429);
    assert.equal(stopped.json().code, 'rate_limited');
  });

  it('a device cookie of another account, or a made-up one, exempts nothing', async () => {
    const { user: a } = await t.client().signup();
    const { user: b } = await t.client().signup();
    const deviceOfA = await knownBrowser(a.email);
    for (let i = 0; i < GUESSES; i++) await signin(b.email, `wrong ${i}`);
    for (const cookie of [deviceOfA, `lk_device=${'A'.repeat(43)}`, 'lk_device=nonsense']) {
      const r = await signin(b.email, DEFAULT_PASSWORD, freshIp(), cookie);
      assert.equal(r.statusCode, 429, cookie);
    }
  });

  it('the sign-in page (POST /login) sets the device cookie too', async () => {
    const { user } = await t.client().signup();
    const res = await t.app.inject({
      method: 'POST',
      url: '/login',
      payload: new URLSearchParams({ email: user.email, password: DEFAULT_PASSWORD }).toString(),
      headers: { origin: 'http://localhost:8484', 'content-type': 'application/x-www-form-urlencoded' },
      remoteAddress: freshIp(),
    });
    assert.equal(res.statusCode, 303);
    assert.ok(res.cookies.find((c) => c.name === 'lk_device')?.value);
  });
});
