import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import type { Clock } from '../../src/lib/clock.js';
import { deleteUnusedRegistrations } from '../../src/oauth/store/unused-clients.js';
import { type TestServer, testServer } from '../helpers/harness.js';
import { authorizeUrl, OAUTH_TOML, REDIRECT, register, tokensFor } from './helpers.js';

/** A clock the test moves. */
function movableClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return { now: () => new Date(Date.now() + offset), advance: (ms) => void (offset += ms) };
}

const regFrom = (t: TestServer, ip: string) =>
  t.app.inject({
    method: 'POST',
    url: '/api/oauth/register',
    payload: { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' },
    remoteAddress: ip,
  });

/**
 * One server for the file (its start is the slow part): the clean-up test runs first, as the
 * instance-wide cap of 20 (DCR_RATE_LIMIT=1) counts every registration made here.
 */
describe('dynamic registration for hosted connectors', () => {
  let t: TestServer;
  const clock = movableClock();
  before(async () => {
    t = await testServer({ toml: OAUTH_TOML, clock, env: { DCR_RATE_LIMIT: '1' } });
  });
  after(() => t.close());

  it('deletes registrations that never completed an authorization after 24 hours, audited', async () => {
    const b = t.client();
    await b.signup();
    const unused = await register(t);
    const used = await register(t);
    const approved = await register(t);
    const admin = t.client();
    const mine = await admin.signup();
    const ok = await admin.post(
      '/api/v1/org/oauth/approved-clients',
      { client_id: approved.client_id },
      mine.org.id,
    );
    assert.equal(ok.statusCode, 201, ok.body);
    await tokensFor(t, b, { client: used });
    // Not yet a day old: kept.
    clock.advance(23 * 3_600_000);
    let gone = await deleteUnusedRegistrations(t.deps);
    assert.ok(!gone.includes(unused.client_id));
    clock.advance(2 * 3_600_000);
    gone = await deleteUnusedRegistrations(t.deps);
    assert.ok(gone.includes(unused.client_id));
    assert.ok(!gone.includes(used.client_id));
    assert.ok(!gone.includes(approved.client_id));
    // The deleted client is unknown at authorize; the used one still works.
    const page = await b.get(authorizeUrl({ clientId: unused.client_id }));
    assert.equal(page.statusCode, 400);
    assert.match(page.body, /unknown/);
    assert.equal((await b.get(authorizeUrl({ clientId: used.client_id }))).statusCode, 303);
    const events = await t.deps.db
      .selectFrom('audit_events')
      .select(['actor', 'target'])
      .where('action', '=', 'oauth.client_expired')
      .execute();
    assert.ok(events.some((e) => e.target === `client:${unused.client_id}` && e.actor === 'system'));
    assert.ok(!events.some((e) => e.target === `client:${used.client_id}`));
    // Org apps are never swept.
    const owner = t.client();
    const { org } = await owner.signup();
    const app = await owner.post(
      '/api/v1/oauth/clients',
      { name: 'Kept', type: 'public', redirect_uris: [REDIRECT] },
      org.id,
    );
    assert.equal(app.statusCode, 201, app.body);
    clock.advance(48 * 3_600_000);
    assert.ok(!(await deleteUnusedRegistrations(t.deps)).includes(app.json().client_id));
  });

  it('limits registrations per IP by DCR_RATE_LIMIT (429 with Retry-After)', async () => {
    assert.equal((await regFrom(t, '10.94.0.1')).statusCode, 201);
    const limited = await regFrom(t, '10.94.0.1');
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json().error, 'temporarily_unavailable');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal((await regFrom(t, '10.94.0.2')).statusCode, 201);
  });

  it('caps registrations from all addresses together at 20 × DCR_RATE_LIMIT an hour', async () => {
    // 5 so far (previous tests); 20 in all: 15 more from fresh addresses, then the cap holds.
    const codes: number[] = [];
    for (let i = 0; i < 20; i++) codes.push((await regFrom(t, `10.93.0.${i + 1}`)).statusCode);
    assert.deepEqual(codes, [...Array(15).fill(201), 429, 429, 429, 429, 429]);
  });

  it('has a default a hosted connector does not reach, and refuses a bad setting at start', () => {
    const base = { PUBLIC_URL: 'http://localhost:8484', LATCHKEY_DATA_DIR: '/tmp/unused' };
    assert.equal(loadConfig({ env: base, cwd: '/tmp' }).dcrRateLimit, 1000);
    for (const bad of ['0', '-1', 'lots', '100001']) {
      assert.throws(
        () => loadConfig({ env: { ...base, DCR_RATE_LIMIT: bad }, cwd: '/tmp' }),
        (err: unknown) => err instanceof ConfigError && err.setting === 'DCR_RATE_LIMIT',
        bad,
      );
    }
  });
});
