import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { DAY, HOUR, manualClock } from '../../src/lib/clock.js';
import { oauthSweep } from '../../src/oauth/store/retention.js';
import { hashToken } from '../../src/tokens/format.js';
import { type TestServer, testServer } from '../helpers/harness.js';
import { BACKEND } from '../helpers/storage.js';
import {
  authorizeUrl,
  consent,
  form,
  MCP_URL,
  OAUTH_TOML,
  pkce,
  REDIRECT,
  type Registered,
  register,
  tokensFor,
} from './helpers.js';
import { browse, relyingParty, RP_REDIRECT, signInRequest } from './oidc/helpers.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

describe('expired OAuth rows are deleted', () => {
  const clock = manualClock(new Date());
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: OAUTH_TOML, clock });
  });
  after(() => t.close());

  // A sweep from the first page, one page per statement: every slice boundary is crossed.
  const sweep = () => oauthSweep(t.deps, { pagesPerSlice: 1 }).run(Number.POSITIVE_INFINITY);
  const refresh = (client: Registered, refreshToken: string) =>
    form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: client.client_id,
      resource: MCP_URL,
    });
  const familyOf = async (token: string) =>
    (
      await t.deps.db
        .selectFrom('oauth_tokens')
        .select('family_id')
        .where('token_hash', '=', hashToken(token))
        .executeTakeFirstOrThrow()
    ).family_id;
  const rowsOf = async (family: string) =>
    (
      await t.deps.db
        .selectFrom('oauth_tokens')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('family_id', '=', family)
        .executeTakeFirstOrThrow()
    ).n;

  it('deletes each token a day after it expired, and an exchanged code with the last of its family', async () => {
    const browser = t.client();
    await browser.signup();
    const a = await tokensFor(t, browser);
    const family = await familyOf(a.tokens.access_token);
    const rotated = await refresh(a.client, a.tokens.refresh_token!);
    assert.equal(rotated.statusCode, 200, rotated.body);
    const codes = () =>
      t.deps.db.selectFrom('oauth_codes').select('code_hash').where('family_id', '=', family).execute();

    // The access tokens expired an hour in: gone a day later; the refresh tokens and the code stay.
    clock.advance(DAY + 2 * HOUR);
    const first = await sweep();
    assert.equal(first.tokens, 2, JSON.stringify(first));
    assert.equal(Number(await rowsOf(family)), 2);
    assert.equal((await codes()).length, 1);

    // The refresh tokens expired on day 90: a day later they are gone, and the code with them.
    clock.advance(90 * DAY);
    const second = await sweep();
    assert.ok(second.tokens >= 2 && second.codes >= 1, JSON.stringify(second));
    assert.equal(Number(await rowsOf(family)), 0);
    assert.equal((await codes()).length, 0);
    const gone = await refresh(a.client, rotated.json().refresh_token);
    assert.equal(gone.statusCode, 400);
    assert.equal(gone.json().error, 'invalid_grant');
  });

  it('recognises a reused refresh token for a day after it expired, then only refuses it', async () => {
    const browser = t.client();
    await browser.signup();
    const living = async () => {
      const f = await tokensFor(t, browser);
      const second = await refresh(f.client, f.tokens.refresh_token!);
      assert.equal(second.statusCode, 200, second.body);
      return { ...f, second: second.json().refresh_token as string };
    };
    const b = await living();
    const c = await living();
    // Both rotate again on day 85: they live on to day 175.
    clock.advance(85 * DAY);
    const b3 = await refresh(b.client, b.second);
    const c3 = await refresh(c.client, c.second);
    assert.equal(b3.statusCode, 200, b3.body);
    assert.equal(c3.statusCode, 200, c3.body);

    // Day 90 and 23 hours: the first refresh tokens expired 23 hours ago and are still kept.
    clock.advance(5 * DAY + 23 * HOUR);
    await sweep();
    const reused = await refresh(b.client, b.tokens.refresh_token!);
    assert.equal(reused.statusCode, 400);
    assert.equal((await refresh(b.client, b3.json().refresh_token)).statusCode, 400, 'reuse revoked B');

    // Two hours later C's first refresh token is gone: refused as unknown, C's session goes on.
    clock.advance(2 * HOUR);
    await sweep();
    const old = await refresh(c.client, c.tokens.refresh_token!);
    assert.equal(old.statusCode, 400);
    assert.equal(old.json().error, 'invalid_grant');
    assert.equal((await refresh(c.client, c3.json().refresh_token)).statusCode, 200);
  });

  it('keeps an exchanged code while its family lives: a replay still revokes the family', async () => {
    const browser = t.client();
    await browser.signup();
    const client = await register(t);
    const p = pkce();
    const back = await consent(browser, authorizeUrl({ clientId: client.client_id, challenge: p.challenge }));
    const exchange = () =>
      form(t, '/api/oauth/token', {
        grant_type: 'authorization_code',
        code: back.searchParams.get('code')!,
        redirect_uri: REDIRECT,
        code_verifier: p.verifier,
        client_id: client.client_id,
        resource: MCP_URL,
      });
    const issued = await exchange();
    assert.equal(issued.statusCode, 200, issued.body);
    clock.advance(2 * DAY);
    await sweep();
    const replay = await exchange();
    assert.equal(replay.statusCode, 400);
    assert.equal(replay.json().error, 'invalid_grant');
    assert.equal(
      (await refresh(client, issued.json().refresh_token)).statusCode,
      400,
      'the replay revoked it',
    );
  });

  it('deletes a code never exchanged and a device authorization a day after they expired', async () => {
    const browser = t.client();
    await browser.signup();
    const client = await register(t);
    const p = pkce();
    const back = await consent(browser, authorizeUrl({ clientId: client.client_id, challenge: p.challenge }));
    const code = back.searchParams.get('code')!;
    const device = await register(t, { grant_types: [DEVICE, 'refresh_token'], redirect_uris: undefined });
    const started = await form(t, '/api/oauth/device', {
      client_id: device.client_id,
      resource: MCP_URL,
      scope: 'mcp:read',
    });
    assert.equal(started.statusCode, 200, started.body);
    const deviceCode = started.json().device_code as string;
    const codeRow = () =>
      t.deps.db
        .selectFrom('oauth_codes')
        .select('code_hash')
        .where('code_hash', '=', hashToken(code))
        .execute();
    const deviceRow = () =>
      t.deps.db
        .selectFrom('oauth_device_codes')
        .select('id')
        .where('device_code_hash', '=', hashToken(deviceCode))
        .execute();
    assert.equal((await codeRow()).length, 1);
    assert.equal((await deviceRow()).length, 1);

    clock.advance(DAY - HOUR);
    await sweep();
    assert.equal((await codeRow()).length, 1, 'within a day of its expiry');
    assert.equal((await deviceRow()).length, 1);
    clock.advance(2 * HOUR);
    await sweep();
    assert.equal((await codeRow()).length, 0);
    assert.equal((await deviceRow()).length, 0);
    const late = await form(t, '/api/oauth/token', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      code_verifier: p.verifier,
      client_id: client.client_id,
      resource: MCP_URL,
    });
    assert.equal(late.statusCode, 400);
    assert.equal(late.json().error, 'invalid_grant');
  });

  it("keeps a living OpenID family's code: its refresh tokens still come with ID tokens", async () => {
    const { config, clientId } = await relyingParty(t);
    const browser = t.client();
    await browser.signup();
    const req = await signInRequest(config, { scope: 'openid profile email offline_access' });
    const back = await browse(browser, req.url);
    const issued = await form(t, '/api/oauth/token', {
      grant_type: 'authorization_code',
      code: back.searchParams.get('code')!,
      redirect_uri: RP_REDIRECT,
      code_verifier: req.verifier,
      client_id: clientId,
    });
    assert.equal(issued.statusCode, 200, issued.body);
    const body = issued.json() as { id_token?: string; refresh_token?: string };
    assert.ok(body.id_token && body.refresh_token, issued.body);
    const family = await familyOf(body.refresh_token);

    clock.advance(2 * DAY);
    await sweep();
    const kept = await t.deps.db
      .selectFrom('oauth_codes')
      .select('code_hash')
      .where('family_id', '=', family)
      .execute();
    assert.equal(kept.length, 1);
    const again = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: body.refresh_token,
      client_id: clientId,
    });
    assert.equal(again.statusCode, 200, again.body);
    assert.ok((again.json() as { id_token?: string }).id_token, 'an ID token, as before the sweep');
  });

  it('sweeps on one node at a time on PostgreSQL', { skip: BACKEND !== 'external' }, async () => {
    const browser = t.client();
    await browser.signup();
    const a = await tokensFor(t, browser);
    const family = await familyOf(a.tokens.access_token);
    clock.advance(DAY + 2 * HOUR);
    const exclusive = oauthSweep(t.deps, { exclusive: true });
    // Another node holds the sweep: this one does nothing.
    await t.deps.db.connection().execute(async (other) => {
      await sql`select pg_advisory_lock(7402, hashtext(current_schema()))`.execute(other);
      try {
        assert.deepEqual(await exclusive.run(Number.POSITIVE_INFINITY), {
          tokens: 0,
          codes: 0,
          deviceCodes: 0,
        });
        assert.equal(Number(await rowsOf(family)), 2);
      } finally {
        await sql`select pg_advisory_unlock(7402, hashtext(current_schema()))`.execute(other);
      }
    });
    assert.ok((await exclusive.run(Number.POSITIVE_INFINITY)).tokens >= 1);
    assert.equal(Number(await rowsOf(family)), 1, 'the access token went, the refresh token stays');
  });
});
