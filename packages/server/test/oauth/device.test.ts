import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { manualClock } from '../../src/lib/clock.js';
import { type Client, PUBLIC_URL, type TestServer, testServer } from '../helpers/harness.js';
import { form, formFields, introspect, MCP_URL, OAUTH_TOML, register } from './helpers.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const CONSONANTS = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_RE = new RegExp(`^[${CONSONANTS}]{4}-[${CONSONANTS}]{4}$`);

describe('device authorization (RFC 8628)', () => {
  const clock = manualClock(new Date());
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: OAUTH_TOML, clock });
  });
  after(() => t.close());

  async function start(scope = 'mcp:read', meta: Record<string, unknown> = {}) {
    const client = await register(t, {
      grant_types: [DEVICE, 'refresh_token'],
      redirect_uris: undefined,
      ...meta,
    });
    const res = await form(
      t,
      '/api/oauth/device',
      { client_id: client.client_id, resource: MCP_URL, scope },
      client.client_secret ? { basic: [client.client_id, client.client_secret] } : {},
    );
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json() as {
      device_code: string;
      user_code: string;
      verification_uri: string;
      verification_uri_complete: string;
      expires_in: number;
      interval: number;
    };
    return { client, ...body };
  }
  const poll = (c: { client_id: string; client_secret?: string | undefined }, deviceCode: string) =>
    c.client_secret
      ? form(
          t,
          '/api/oauth/token',
          { grant_type: DEVICE, device_code: deviceCode },
          {
            basic: [c.client_id, c.client_secret],
          },
        )
      : form(t, '/api/oauth/token', { grant_type: DEVICE, device_code: deviceCode, client_id: c.client_id });

  const postForm = (browser: Client, url: string, body: URLSearchParams) =>
    browser.req({
      method: 'POST',
      url,
      body: body.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });

  /** A signed-in person opens /device, enters `typed` and gets the consent page. */
  async function enter(browser: Client, typed: string) {
    const page = await browser.get(`/device?user_code=${encodeURIComponent(typed)}`);
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /^text\/html/);
    const entry = formFields(page.body);
    assert.equal(entry.action, '/device');
    assert.ok(entry.hidden.csrf_token, 'the code form carries a form token');
    const consentPage = await postForm(
      browser,
      '/device',
      new URLSearchParams({ ...entry.hidden, user_code: typed }),
    );
    assert.equal(consentPage.statusCode, 200, consentPage.body);
    const f = formFields(consentPage.body);
    assert.equal(f.action, '/device/decision');
    return f;
  }

  /** Submits the device consent form as a browser without JavaScript: hidden fields, ticked boxes, a button. */
  async function decide(browser: Client, f: ReturnType<typeof formFields>, decision: 'approve' | 'deny') {
    const body = new URLSearchParams(f.hidden);
    if (!f.hidden.org_id) body.set('org_id', f.orgs[0]!);
    for (const s of f.scopes) if (s.checked) body.append('scope', s.value);
    body.set('decision', decision);
    return postForm(browser, '/device/decision', body);
  }

  it('answers pending, slow_down, then tokens once approved, then invalid_grant', async () => {
    const d = await start('mcp:read mcp:run mcp:act');
    assert.match(d.user_code, USER_CODE_RE);
    assert.equal(d.verification_uri, `${PUBLIC_URL}/device`);
    assert.equal(d.verification_uri_complete, `${PUBLIC_URL}/device?user_code=${d.user_code}`);
    assert.equal(d.interval, 5);
    assert.equal(d.expires_in, 600);
    assert.ok(d.device_code.length >= 32);

    const first = await poll(d.client, d.device_code);
    assert.equal(first.statusCode, 400);
    assert.equal(first.headers['cache-control'], 'no-store');
    assert.equal(first.json().error, 'authorization_pending');
    const fast = await poll(d.client, d.device_code);
    assert.equal(fast.statusCode, 400);
    assert.equal(fast.json().error, 'slow_down');
    clock.advance(6_000); // past the original 5 s, but slow_down made it 10 s
    assert.equal((await poll(d.client, d.device_code)).json().error, 'slow_down');
    clock.advance(16_000); // two slow_downs: 15 s
    assert.equal((await poll(d.client, d.device_code)).json().error, 'authorization_pending');

    const browser = t.client();
    const me = await browser.signup();
    // Lowercase, without the dash: still the same code.
    const f = await enter(browser, d.user_code.replace('-', '').toLowerCase());
    assert.equal(f.hidden.user_code, d.user_code.replace('-', ''));
    // High-risk scopes are offered unticked.
    assert.deepEqual(f.scopes, [
      { value: 'mcp:read', checked: true },
      { value: 'mcp:run', checked: true },
      { value: 'mcp:act', checked: false },
    ]);
    const done = await decide(browser, f, 'approve');
    assert.equal(done.statusCode, 200, done.body);
    assert.match(done.body, /approved/);
    // The same form again: the code has been used.
    assert.equal((await decide(browser, f, 'approve')).statusCode, 400);

    clock.advance(16_000);
    const issued = await poll(d.client, d.device_code);
    assert.equal(issued.statusCode, 200, issued.body);
    assert.equal(issued.headers['cache-control'], 'no-store');
    const tokens = issued.json();
    assert.match(tokens.access_token, /^lk_at_/);
    assert.match(tokens.refresh_token, /^lk_rt_/);
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.scope, 'mcp:read mcp:run');
    const info = (await introspect(t, tokens.access_token)).json();
    assert.equal(info.active, true);
    assert.equal(info.sub, me.user.id);
    assert.equal(info.client_id, d.client.client_id);
    assert.equal(info.aud, MCP_URL);
    assert.equal(info.org_id, me.org.id);
    // An access and a refresh token of one new family, and one audit event naming both.
    const rows = await t.deps.db
      .selectFrom('oauth_tokens')
      .selectAll()
      .where('client_id', '=', d.client.client_id)
      .orderBy('kind')
      .execute();
    assert.deepEqual(
      rows.map((r) => [r.kind, r.user_id, r.org_id, r.resource, r.scopes, r.family_id]),
      [
        ['at', me.user.id, me.org.id, MCP_URL, ['mcp:read', 'mcp:run'], rows[0]!.family_id],
        ['rt', me.user.id, me.org.id, MCP_URL, ['mcp:read', 'mcp:run'], rows[0]!.family_id],
      ],
    );
    assert.ok(rows[0]!.grant_id);
    assert.equal(rows[1]!.grant_id, rows[0]!.grant_id);
    const events = await t.deps.db
      .selectFrom('audit_events')
      .select('data')
      .where('action', '=', 'oauth.token_issued')
      .where('target', '=', `client:${d.client.client_id}`)
      .execute();
    assert.deepEqual(
      events.map((e) => e.data),
      [
        {
          client_id: d.client.client_id,
          grant_type: 'device_code',
          user_id: me.user.id,
          resource: MCP_URL,
          scopes: ['mcp:read', 'mcp:run'],
          access_token: rows[0]!.prefix,
          refresh_token: rows[1]!.prefix,
        },
      ],
    );

    clock.advance(16_000);
    assert.equal((await poll(d.client, d.device_code)).json().error, 'invalid_grant');
    // The refresh token works like any other.
    const refreshed = await form(t, '/api/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: d.client.client_id,
    });
    assert.equal(refreshed.statusCode, 200, refreshed.body);
  });

  it('answers access_denied when the person denies', async () => {
    const d = await start();
    assert.equal((await poll(d.client, d.device_code)).json().error, 'authorization_pending');
    const browser = t.client();
    await browser.signup();
    const res = await decide(browser, await enter(browser, d.user_code), 'deny');
    assert.equal(res.statusCode, 200, res.body);
    assert.match(res.body, /denied/);
    clock.advance(6_000);
    const denied = await poll(d.client, d.device_code);
    assert.equal(denied.statusCode, 400);
    assert.equal(denied.json().error, 'access_denied');
    clock.advance(6_000);
    assert.equal((await poll(d.client, d.device_code)).json().error, 'access_denied');
  });

  it('answers expired_token after ten minutes, and the code no longer works at /device', async () => {
    const d = await start();
    const browser = t.client();
    await browser.signup();
    const f = await enter(browser, d.user_code); // the page is open…
    clock.advance(601_000);
    assert.equal((await poll(d.client, d.device_code)).json().error, 'expired_token');
    // …but approving it now is too late,
    const late = await decide(browser, f, 'approve');
    assert.equal(late.statusCode, 400);
    assert.equal((await poll(d.client, d.device_code)).json().error, 'expired_token');
    // and entering it again is refused.
    const page = formFields((await browser.get('/device')).body);
    const res = await postForm(
      browser,
      '/device',
      new URLSearchParams({ ...page.hidden, user_code: d.user_code }),
    );
    assert.equal(res.statusCode, 400);
  });

  it('answers a wrong or malformed user code with a 400 page that asks again', async () => {
    const d = await start();
    const browser = t.client();
    await browser.signup();
    const page = formFields((await browser.get('/device')).body);
    // A well-formed code that is not the one issued (same alphabet, different letters).
    const wrong = [...d.user_code.replace('-', '')]
      .map((c) => CONSONANTS[(CONSONANTS.indexOf(c) + 1) % CONSONANTS.length])
      .join('');
    for (const typed of [wrong, 'HELLO-WORLD', '', 'BCDF-GHJ', 'x'.repeat(100)]) {
      const res = await postForm(
        browser,
        '/device',
        new URLSearchParams({ ...page.hidden, user_code: typed }),
      );
      assert.equal(res.statusCode, 400, typed);
      assert.match(res.headers['content-type'] as string, /^text\/html/);
      assert.match(res.body, /not valid or has expired/);
      const again = formFields(res.body);
      assert.equal(again.action, '/device');
      assert.equal(again.hidden.csrf_token, page.hidden.csrf_token);
    }
    // The right code still works afterwards.
    await enter(browser, d.user_code);
  });

  it('sends a signed-out person to /login first, and back to the code', async () => {
    const d = await start();
    const res = await t.client().get(`/device?user_code=${d.user_code}`);
    assert.equal(res.statusCode, 303);
    assert.equal(
      res.headers.location,
      `/login?return_to=${encodeURIComponent(`/device?user_code=${d.user_code}`)}`,
    );
    const bare = await t.client().get('/device');
    assert.equal(bare.statusCode, 303);
    assert.equal(bare.headers.location, `/login?return_to=${encodeURIComponent('/device')}`);
    // The code form itself prefills what the link carried.
    const browser = t.client();
    await browser.signup();
    const page = await browser.get(`/device?user_code=${d.user_code}`);
    assert.match(page.body, new RegExp(`name="user_code"[^>]*value="${d.user_code}"`));
  });

  it("refuses another client's device code", async () => {
    const d = await start();
    const other = await register(t, { grant_types: [DEVICE], redirect_uris: undefined });
    assert.equal((await poll(other, d.device_code)).json().error, 'invalid_grant');
    assert.equal((await poll(d.client, 'not-a-device-code')).json().error, 'invalid_grant');
  });

  it('refuses a client not registered for the device grant, and a missing resource', async () => {
    const plain = await register(t);
    const res = await form(t, '/api/oauth/device', { client_id: plain.client_id, resource: MCP_URL });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error, 'unauthorized_client');
    // Nor may it poll the token endpoint with someone's device code.
    const d = await start();
    assert.equal((await poll(plain, d.device_code)).json().error, 'unauthorized_client');

    const dc = await register(t, { grant_types: [DEVICE], redirect_uris: undefined });
    const noResource = await form(t, '/api/oauth/device', { client_id: dc.client_id });
    assert.equal(noResource.json().error, 'invalid_target');
    const unknown = await form(t, '/api/oauth/device', { client_id: 'no-such-client', resource: MCP_URL });
    assert.equal(unknown.statusCode, 401);
    assert.equal(unknown.json().error, 'invalid_client');
  });

  it('a confidential device client authenticates at both endpoints and, without refresh_token, gets none', async () => {
    const d = await start('mcp:read', {
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [DEVICE],
    });
    assert.ok(d.client.client_secret);
    // Without its secret it is not this client.
    const anonymous = await form(t, '/api/oauth/token', {
      grant_type: DEVICE,
      device_code: d.device_code,
      client_id: d.client.client_id,
    });
    assert.equal(anonymous.json().error, 'invalid_client');
    const browser = t.client();
    await browser.signup();
    assert.equal((await decide(browser, await enter(browser, d.user_code), 'approve')).statusCode, 200);
    const issued = await poll(d.client, d.device_code);
    assert.equal(issued.statusCode, 200, issued.body);
    assert.equal(issued.json().refresh_token, undefined);
    assert.match(issued.json().access_token, /^lk_at_/);
  });

  it("needs the session's form token to look a code up and to decide", async () => {
    const d = await start();
    const browser = t.client();
    await browser.signup();
    const res = await postForm(
      browser,
      '/device',
      new URLSearchParams({ user_code: d.user_code, csrf_token: 'forged' }),
    );
    assert.equal(res.statusCode, 403);
    // Another person's form token does not fit this session either.
    const f = await enter(browser, d.user_code);
    const mallory = t.client();
    await mallory.signup();
    const forged = await decide(mallory, f, 'approve');
    assert.equal(forged.statusCode, 403);
    assert.equal((await poll(d.client, d.device_code)).json().error, 'authorization_pending');
  });
});
