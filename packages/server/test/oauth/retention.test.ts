import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DAY, HOUR, manualClock } from '../../src/lib/clock.js';
import { oauthSweep } from '../../src/oauth/store/retention.js';
import { hashToken } from '../../src/tokens/format.js';
import { type TestServer, testServer } from '../helpers/harness.js';
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

  it('deletes a family a day after its last token expired, and keeps a living one whole', async () => {
    const browser = t.client();
    await browser.signup();
    const a = await tokensFor(t, browser);
    const b = await tokensFor(t, browser);
    const familyA = await familyOf(a.tokens.access_token);
    const familyB = await familyOf(b.tokens.access_token);
    assert.equal((await refresh(a.client, a.tokens.refresh_token!)).statusCode, 200);
    const b2 = await refresh(b.client, b.tokens.refresh_token!);
    assert.equal(b2.statusCode, 200, b2.body);
    // Family B rotates again on day 85: it lives on to day 175.
    clock.advance(85 * DAY);
    const b3 = await refresh(b.client, b2.json().refresh_token);
    assert.equal(b3.statusCode, 200, b3.body);

    // A's last refresh token expired on day 90: kept for a day after.
    clock.advance(5 * DAY + 23 * HOUR);
    await sweep();
    assert.equal(Number(await rowsOf(familyA)), 4);
    clock.advance(2 * HOUR);
    const swept = await sweep();
    assert.ok(swept.tokens >= 4, JSON.stringify(swept));
    assert.equal(Number(await rowsOf(familyA)), 0);
    assert.equal(Number(await rowsOf(familyB)), 6, 'every token of a living family stays');
    const code = await t.deps.db
      .selectFrom('oauth_codes')
      .select('code_hash')
      .where('family_id', '=', familyA)
      .executeTakeFirst();
    assert.equal(code, undefined, "the family's code is gone too");

    // A's refresh token is refused as before; B's first refresh token, rotated and expired, is
    // still known as reused and revokes its family.
    const gone = await refresh(a.client, a.tokens.refresh_token!);
    assert.equal(gone.statusCode, 400);
    assert.equal(gone.json().error, 'invalid_grant');
    const reused = await refresh(b.client, b.tokens.refresh_token!);
    assert.equal(reused.statusCode, 400);
    assert.equal(reused.json().error, 'invalid_grant');
    const revoked = await refresh(b.client, b3.json().refresh_token);
    assert.equal(revoked.statusCode, 400, 'reuse detection revoked the living family');
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
});
