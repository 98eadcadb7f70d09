import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { DEFAULT_PASSWORD, type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import { formFields, MCP_ID, MCP_SECRET, MCP_URL, OAUTH_TOML } from './helpers.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

/** A port nobody listens on right now (on 127.0.0.1), so PUBLIC_URL can name it before we listen. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const insecure = { [oauth.allowInsecureRequests]: true } as const;

const isOAuthError = (code: string) => (err: unknown) =>
  err instanceof oauth.ResponseBodyError && err.error === code;

/**
 * The whole flow over real HTTP, with oauth4webapi as the client and `fetch` as a browser without
 * JavaScript: discovery → registration → sign-in → authorize → consent form → code → tokens →
 * refresh → introspection → revocation.
 */
describe('end to end with oauth4webapi', () => {
  let t: TestServer;
  let issuer: URL;
  let as: oauth.AuthorizationServer;

  before(async () => {
    const port = await freePort();
    t = await testServer({
      toml: OAUTH_TOML,
      env: { PUBLIC_URL: `http://127.0.0.1:${port}`, PORT: String(port) },
    });
    await t.app.listen({ port, host: '127.0.0.1' });
    issuer = new URL(`http://127.0.0.1:${port}`);
    as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
    );
  });
  after(() => t.close());

  /** A browser: keeps the session cookie, sends our Origin on POSTs, never follows redirects. */
  function browser() {
    let cookie = '';
    return async (path: string, init: { method?: string; form?: URLSearchParams; json?: unknown } = {}) => {
      const method = init.method ?? (init.form || init.json !== undefined ? 'POST' : 'GET');
      const headers: Record<string, string> = {};
      if (cookie) headers.cookie = cookie;
      let body: string | undefined;
      if (init.form) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = init.form.toString();
      } else if (init.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(init.json);
      }
      if (method !== 'GET') headers.origin = issuer.origin;
      const res = await fetch(new URL(path, issuer), { method, headers, body, redirect: 'manual' });
      const set = res.headers.getSetCookie().find((c) => c.startsWith('lk_session='));
      if (set) cookie = set.split(';')[0]!;
      return res;
    };
  }
  type Browser = ReturnType<typeof browser>;

  async function signUp(b: Browser) {
    const email = uniqueEmail('e2e');
    const res = await b('/api/auth/signup', {
      json: { email, password: DEFAULT_PASSWORD, name: 'E2E Person' },
    });
    assert.equal(res.status, 201, await res.clone().text());
    const me = (await res.json()) as { user: { id: string } };
    return { email, id: me.user.id };
  }

  /** Submits a consent form as a browser without JavaScript: its hidden fields, the ticked boxes, a button. */
  async function submitConsent(b: Browser, html: string, decision: 'approve' | 'deny') {
    const f = formFields(html);
    const form = new URLSearchParams(f.hidden);
    if (!f.hidden.org_id && f.orgs[0]) form.set('org_id', f.orgs[0]);
    for (const s of f.scopes) if (s.checked) form.append('scope', s.value);
    form.set('decision', decision);
    return b(f.action!, { form });
  }

  async function registerClient(kind: 'public' | 'confidential', grantTypes: string[], redirect = true) {
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        {
          ...(redirect ? { redirect_uris: ['http://127.0.0.1/callback'] } : {}),
          client_name: `E2E ${kind}`,
          token_endpoint_auth_method: kind === 'public' ? 'none' : 'client_secret_basic',
          grant_types: grantTypes,
        },
        insecure,
      ),
    );
    assert.deepEqual(registered.grant_types, grantTypes);
    assert.equal(registered.token_endpoint_auth_method, kind === 'public' ? 'none' : 'client_secret_basic');
    if (kind === 'public') assert.equal(registered.client_secret, undefined);
    else assert.equal(typeof registered.client_secret, 'string');
    const client: oauth.Client = {
      client_id: registered.client_id,
      token_endpoint_auth_method: registered.token_endpoint_auth_method as string,
    };
    const clientAuth =
      kind === 'public' ? oauth.None() : oauth.ClientSecretBasic(registered.client_secret as string);
    return { client, clientAuth };
  }

  const rs: oauth.Client = { client_id: MCP_ID };
  /** Introspection as the resource server, with its configured id and secret. */
  const introspect = async (token: string) =>
    oauth.processIntrospectionResponse(
      as,
      rs,
      await oauth.introspectionRequest(as, rs, oauth.ClientSecretBasic(MCP_SECRET), token, insecure),
    );

  it('serves the discovery documents', async () => {
    assert.equal(as.issuer, issuer.origin);
    assert.equal(as.authorization_endpoint, `${issuer.origin}/api/oauth/authorize`);
    assert.equal(as.token_endpoint, `${issuer.origin}/api/oauth/token`);
    assert.equal(as.device_authorization_endpoint, `${issuer.origin}/api/oauth/device`);
    assert.ok(as.code_challenge_methods_supported?.includes('S256'));
    assert.equal(as.authorization_response_iss_parameter_supported, true);
    assert.equal(as.client_id_metadata_document_supported, true);
    assert.ok(as.grant_types_supported?.includes(DEVICE));

    const asDoc = await fetch(new URL('/.well-known/oauth-authorization-server', issuer));
    const oidcDoc = await fetch(new URL('/.well-known/openid-configuration', issuer));
    assert.equal(asDoc.status, 200);
    assert.equal(oidcDoc.status, 200);
    assert.deepEqual(await oidcDoc.json(), await asDoc.json());

    const prmRes = await fetch(new URL('/.well-known/oauth-protected-resource/api', issuer));
    assert.equal(prmRes.status, 200);
    const prm = (await prmRes.json()) as { resource: string; authorization_servers: string[] };
    assert.equal(prm.resource, `${issuer.origin}/api`);
    assert.deepEqual(prm.authorization_servers, [issuer.origin]);
  });

  /**
   * One authorization code flow. `signIn: 'signup'` signs up in the same browser first;
   * `'login'` starts signed out, is sent to /login, signs in with the form and comes back.
   */
  async function run(kind: 'public' | 'confidential', signIn: 'signup' | 'login') {
    const { client, clientAuth } = await registerClient(kind, ['authorization_code', 'refresh_token']);

    const b = browser();
    let person: { email: string; id: string };
    if (signIn === 'signup') person = await signUp(b);
    else person = await signUp(browser()); // someone else's browser; this one is signed out

    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const redirectUri = 'http://127.0.0.1:51234/callback'; // loopback: any port (RFC 8252 §7.3)
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: client.client_id,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'mcp:read mcp:run',
      resource: MCP_URL,
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }).toString();
    const authorizePath = url.pathname + url.search;

    if (signIn === 'login') {
      const toLogin = await b(authorizePath);
      assert.equal(toLogin.status, 303);
      const login = new URL(toLogin.headers.get('location')!, issuer);
      assert.equal(login.pathname, '/login');
      assert.equal(login.searchParams.get('return_to'), authorizePath);
      const page = await b(login.pathname + login.search);
      assert.equal(page.status, 200);
      const f = formFields(await page.text());
      const signedIn = await b('/login', {
        // The password form's own fields, as a browser submits them (the page has other forms).
        form: new URLSearchParams({
          return_to: f.hidden.return_to ?? '',
          email: person.email,
          password: DEFAULT_PASSWORD,
        }),
      });
      assert.equal(signedIn.status, 303, await signedIn.clone().text());
      assert.equal(signedIn.headers.get('location'), authorizePath);
    }

    const consentPage = await b(authorizePath);
    assert.equal(consentPage.status, 200);
    assert.match(consentPage.headers.get('content-type')!, /^text\/html/);
    const decided = await submitConsent(b, await consentPage.text(), 'approve');
    assert.equal(decided.status, 303, await decided.clone().text());
    const callback = new URL(decided.headers.get('location')!);
    assert.equal(callback.origin + callback.pathname, redirectUri);
    assert.equal(callback.searchParams.get('iss'), as.issuer); // RFC 9207
    assert.equal(callback.searchParams.get('state'), state);

    const params = oauth.validateAuthResponse(as, client, callback, state);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, verifier, {
        additionalParameters: { resource: MCP_URL },
        ...insecure,
      }),
    );
    assert.match(tokens.access_token, /^lk_at_/);
    assert.match(tokens.refresh_token!, /^lk_rt_/);
    assert.equal(tokens.scope, 'mcp:read mcp:run');
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens.expires_in, 3600);

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, insecure),
    );
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    assert.notEqual(refreshed.access_token, tokens.access_token);
    assert.equal(refreshed.scope, 'mcp:read mcp:run');

    // The resource server introspects with its own credentials.
    const info = await introspect(refreshed.access_token);
    assert.equal(info.active, true);
    assert.equal(info.aud, MCP_URL);
    assert.equal(info.scope, 'mcp:read mcp:run');
    assert.equal(info.client_id, client.client_id);
    assert.equal(info.sub, person.id);
    assert.equal(info.iss, as.issuer);
    assert.equal(info.token_type, 'Bearer');
    // Rotation spends the old refresh token but leaves the old access token to run out.
    assert.equal((await introspect(tokens.access_token)).active, true);
    // A refresh token is not a credential at the resource server.
    assert.equal((await introspect(refreshed.refresh_token!)).active, false);

    if (kind === 'confidential') {
      // A confidential client may introspect its own tokens.
      const own = await oauth.processIntrospectionResponse(
        as,
        client,
        await oauth.introspectionRequest(as, client, clientAuth, refreshed.access_token, insecure),
      );
      assert.equal(own.active, true);
      assert.equal(own.client_id, client.client_id);
    } else {
      // A public client may not.
      await assert.rejects(
        async () =>
          oauth.processIntrospectionResponse(
            as,
            client,
            await oauth.introspectionRequest(as, client, clientAuth, refreshed.access_token, insecure),
          ),
        isOAuthError('invalid_client'),
      );
    }

    // Revoking the refresh token ends the whole family: every access token it led to, too.
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, clientAuth, refreshed.refresh_token!, insecure),
    );
    assert.equal((await introspect(refreshed.access_token)).active, false);
    assert.equal((await introspect(tokens.access_token)).active, false);
    await assert.rejects(
      async () =>
        oauth.processRefreshTokenResponse(
          as,
          client,
          await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshed.refresh_token!, insecure),
        ),
      isOAuthError('invalid_grant'),
    );
    // Revoking again (RFC 7009 §2.2) still answers 200.
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, clientAuth, refreshed.refresh_token!, insecure),
    );
  }

  it('a public client: DCR, consent, code, refresh, introspection, revocation', async () => {
    await run('public', 'signup');
  });

  it('a confidential client authenticating with client_secret_basic, signing in at /login first', async () => {
    await run('confidential', 'login');
  });

  it('a denied consent comes back as access_denied, with state and iss', async () => {
    const { client } = await registerClient('public', ['authorization_code']);
    const b = browser();
    await signUp(b);
    const state = oauth.generateRandomState();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: client.client_id,
      redirect_uri: 'http://127.0.0.1:40000/callback',
      response_type: 'code',
      resource: MCP_URL,
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
      code_challenge_method: 'S256',
    }).toString();
    const page = await b(url.pathname + url.search);
    assert.equal(page.status, 200);
    const decided = await submitConsent(b, await page.text(), 'deny');
    assert.equal(decided.status, 303);
    const callback = new URL(decided.headers.get('location')!);
    assert.throws(
      () => oauth.validateAuthResponse(as, client, callback, state),
      (err: unknown) => err instanceof oauth.AuthorizationResponseError && err.error === 'access_denied',
    );
  });

  it('the device flow with oauth4webapi polling and a browser approving at /device', async () => {
    const { client, clientAuth } = await registerClient('public', [DEVICE, 'refresh_token'], false);
    const started = await oauth.processDeviceAuthorizationResponse(
      as,
      client,
      await oauth.deviceAuthorizationRequest(
        as,
        client,
        clientAuth,
        { resource: MCP_URL, scope: 'mcp:read' },
        insecure,
      ),
    );
    assert.equal(started.verification_uri, `${issuer.origin}/device`);
    assert.equal(started.interval, 5);
    assert.equal(started.expires_in, 600);
    const poll = async () =>
      oauth.processDeviceCodeResponse(
        as,
        client,
        await oauth.deviceCodeGrantRequest(as, client, clientAuth, started.device_code, insecure),
      );
    await assert.rejects(poll, isOAuthError('authorization_pending'));

    const b = browser();
    await signUp(b);
    const complete = new URL(started.verification_uri_complete!);
    const entry = await b(complete.pathname + complete.search);
    assert.equal(entry.status, 200);
    const f = formFields(await entry.text());
    assert.equal(f.action, '/device');
    const consentPage = await b('/device', {
      form: new URLSearchParams({ ...f.hidden, user_code: started.user_code }),
    });
    assert.equal(consentPage.status, 200, await consentPage.clone().text());
    const decided = await submitConsent(b, await consentPage.text(), 'approve');
    assert.equal(decided.status, 200, await decided.clone().text());

    // An approved code answers at once, even inside the interval.
    const tokens = await poll();
    assert.match(tokens.access_token, /^lk_at_/);
    assert.ok(tokens.refresh_token);
    assert.equal(tokens.scope, 'mcp:read');
    const info = await introspect(tokens.access_token);
    assert.equal(info.active, true);
    assert.equal(info.client_id, client.client_id);
    await assert.rejects(poll, isOAuthError('invalid_grant'));
  });
});
