// test-backend: embedded — the subject is the outbound fetch guard, not storage
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { clear, setA } from '../helpers/dns.js';
import { type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import { authorizeUrl, OAUTH_TOML } from '../oauth/helpers.js';
import { Browser, loginError } from '../helpers/browser.js';
import { pageCode } from '../sso/helpers.js';

/**
 * Every caller of the guarded outbound fetch, driven through its public HTTP interface: a target
 * an attacker can name (a client_id, an org admin's IdP issuer or metadata URL, the endpoints a
 * discovery document lists, a social provider's issuer) that is, or resolves to, a loopback or
 * private address is refused with the caller's own 4xx / error code, and nothing is sent to it.
 *
 * The names resolve through the test DNS server (DNS_SERVERS, set by the harness) to 127.0.0.1,
 * where a trap listener counts connections: SSRF by DNS is what these tests pin.
 */

/** A TCP trap on 127.0.0.1 that counts every connection made to it. */
async function trap() {
  let connections = 0;
  const server: Server = createServer((_req, res) => res.writeHead(500).end());
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const names: string[] = [];
/** A name only this test uses, resolving (A record) to 127.0.0.1 in the test DNS server. */
function loopbackName(tag: string): string {
  const n = `${tag}-${process.pid}-${names.length}.outbound.test`;
  names.push(n);
  setA(n, ['127.0.0.1']);
  return n;
}

let snare: Awaited<ReturnType<typeof trap>>;
let googleHost: string;
let t: TestServer;

before(async () => {
  snare = await trap();
  googleHost = loopbackName('google');
  // No loopback allowance anywhere: CIMD_ALLOW_LOOPBACK and SSO_ALLOW_LOOPBACK are unset, and
  // GOOGLE_ISSUER is an https name, not a loopback stand-in.
  t = await testServer({
    toml: OAUTH_TOML,
    env: {
      GOOGLE_CLIENT_ID: 'google-client',
      GOOGLE_CLIENT_SECRET: 'google-secret',
      GOOGLE_ISSUER: `https://${googleHost}:${snare.port}`,
    },
  });
});
after(async () => {
  await t.close();
  await snare.close();
  for (const n of names) clear(n);
});

async function owner(tt: TestServer) {
  const c = tt.client();
  const s = await c.signup({ email: uniqueEmail('admin') });
  return { c, orgId: s.org.id, slug: s.org.slug };
}

describe('Client ID Metadata Documents use the guarded fetch', () => {
  for (const [what, clientId] of [
    ['a name that resolves to 127.0.0.1', () => `https://${loopbackName('cimd')}:${snare.port}/client.json`],
    ['127.1', () => `https://127.1:${snare.port}/client.json`],
    ['0x7f000001', () => `https://0x7f000001:${snare.port}/client.json`],
    ['[::ffff:7f00:1]', () => `https://[::ffff:7f00:1]:${snare.port}/client.json`],
  ] as const) {
    it(`refuses a client_id on ${what}: 400 invalid_client (forbidden_address), nothing fetched`, async () => {
      const before = snare.connections();
      const browser = t.client();
      await browser.signup();
      const res = await browser.get(
        authorizeUrl({ clientId: clientId(), redirectUri: 'http://127.0.0.1/cb' }),
      );
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.headers.location, undefined);
      assert.match(res.body, /forbidden_address/);
      assert.equal(snare.connections(), before);
    });
  }
});

describe('SSO connections use the guarded fetch', () => {
  it('an OIDC issuer whose name resolves to 127.0.0.1 is saved but its discovery is refused (test fails)', async () => {
    const o = await owner(t);
    const issuer = `https://${loopbackName('idp')}:${snare.port}`;
    const created = await o.c.post(
      '/api/v1/org/sso/connections',
      { kind: 'oidc', name: 'Rebound', oidc_issuer: issuer, oidc_client_id: 'c', oidc_client_secret: 's' },
      o.orgId,
    );
    assert.equal(created.statusCode, 201, created.body);
    const before = snare.connections();
    const tested = await o.c.post(
      `/api/v1/org/sso/connections/${created.json().id}/test`,
      undefined,
      o.orgId,
    );
    assert.equal(tested.statusCode, 200, tested.body);
    assert.equal(tested.json().test.result, 'fail');
    assert.match(tested.json().test.detail, /non-public address/);
    assert.equal(snare.connections(), before, 'nothing was sent to the loopback address');
    const enable = await o.c.patch(
      `/api/v1/org/sso/connections/${created.json().id}`,
      { enabled: true },
      o.orgId,
    );
    assert.equal(enable.statusCode, 409, enable.body);
    assert.equal(enable.json().code, 'sso_untested');
  });

  it('a SAML metadata URL whose name resolves to 127.0.0.1 is not fetched', async () => {
    const o = await owner(t);
    const url = `https://${loopbackName('saml-md')}:${snare.port}/metadata`;
    const created = await o.c.post(
      '/api/v1/org/sso/connections',
      { kind: 'saml', name: 'Rebound SAML', saml_metadata_url: url },
      o.orgId,
    );
    assert.equal(created.statusCode, 201, created.body);
    const before = snare.connections();
    const tested = await o.c.post(
      `/api/v1/org/sso/connections/${created.json().id}/test`,
      undefined,
      o.orgId,
    );
    assert.equal(tested.statusCode, 200, tested.body);
    assert.equal(tested.json().test.result, 'fail');
    assert.equal(snare.connections(), before);
  });

  it('loopback and private IP literals in any spelling are refused when saved: 400 invalid_request', async () => {
    const o = await owner(t);
    for (const url of [
      `https://127.1:${snare.port}`,
      `https://0x7f000001:${snare.port}`,
      `https://2130706433:${snare.port}`,
      `https://[::ffff:127.0.0.1]:${snare.port}`,
      'https://[::127.0.0.1]',
      'https://169.254.169.254/latest',
      'https://[fd00::1]',
      'https://100.64.0.1',
      'http://idp.example',
    ]) {
      const oidc = await o.c.post(
        '/api/v1/org/sso/connections',
        { kind: 'oidc', name: 'Bad', oidc_issuer: url, oidc_client_id: 'c', oidc_client_secret: 's' },
        o.orgId,
      );
      assert.equal(oidc.statusCode, 400, `${url}: ${oidc.body}`);
      assert.equal(oidc.json().code, 'invalid_request');
      const saml = await o.c.post(
        '/api/v1/org/sso/connections',
        { kind: 'saml', name: 'Bad', saml_metadata_url: `${url}/metadata` },
        o.orgId,
      );
      assert.equal(saml.statusCode, 400, `${url}: ${saml.body}`);
      assert.equal(saml.json().code, 'invalid_request');
    }
  });
});

describe('social sign-in uses the guarded fetch', () => {
  it('a Google issuer whose name resolves to 127.0.0.1 is refused: provider_error, nothing sent', async () => {
    const before = snare.connections();
    const b = new Browser(t);
    const start = await b.start('google');
    assert.equal(
      loginError(start),
      'provider_error',
      `${start.statusCode} ${String(start.headers.location)}`,
    );
    assert.equal(snare.connections(), before);
  });
});

/**
 * An IdP on loopback (the loopback allowance on, as in the SSO tests) whose discovery document
 * names a private token_endpoint or jwks_uri: discovery is allowed, the private endpoint is not.
 */
describe('endpoints named by a discovery document use the guarded fetch', () => {
  let idp: Server;
  let base: string;
  let tt: TestServer;
  const CLIENT_ID = 'latchkey-sp';
  let key: Awaited<ReturnType<typeof generateKeyPair>>;
  let lastNonce = '';

  before(async () => {
    key = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(key.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    idp = createServer((req, res) => {
      const url = new URL(req.url ?? '/', base);
      const m = /^\/(private-token|private-jwks|local)(\/.*)$/.exec(url.pathname);
      if (!m) return res.writeHead(404).end();
      const issuer = `${base}/${m[1]}`;
      const json = (body: unknown) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (m[2] === '/.well-known/openid-configuration') {
        return json({
          issuer,
          authorization_endpoint: `${issuer}/auth`,
          token_endpoint: m[1] === 'private-token' ? 'https://10.0.0.1/token' : `${issuer}/token`,
          jwks_uri: m[1] === 'private-jwks' ? 'https://169.254.169.254/jwks' : `${issuer}/jwks`,
          response_types_supported: ['code'],
          id_token_signing_alg_values_supported: ['RS256'],
        });
      }
      if (m[2] === '/jwks') return json({ keys: [jwk] });
      if (m[2] === '/token') {
        void (async () => {
          const now = Math.floor(Date.now() / 1000);
          const idToken = await new SignJWT({
            email: 'someone@example.com',
            email_verified: true,
            nonce: lastNonce,
          })
            .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
            .setIssuer(issuer)
            .setAudience(CLIENT_ID)
            .setSubject('sub-1')
            .setIssuedAt(now)
            .setExpirationTime(now + 300)
            .sign(key.privateKey);
          json({ access_token: 'at', token_type: 'Bearer', expires_in: 300, id_token: idToken });
        })();
        return;
      }
      return res.writeHead(404).end();
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    tt = await testServer({ env: { SSO_ALLOW_LOOPBACK: 'true' } });
  });
  after(async () => {
    await tt.close();
    await new Promise<void>((r) => {
      idp.closeAllConnections();
      idp.close(() => r());
    });
  });

  /** An org with an enabled connection to `issuer`; returns its slug. */
  async function connected(issuer: string): Promise<string> {
    const o = await owner(tt);
    const c = await o.c.post(
      '/api/v1/org/sso/connections',
      {
        kind: 'oidc',
        name: 'IdP',
        oidc_issuer: issuer,
        oidc_client_id: CLIENT_ID,
        oidc_client_secret: 'secret',
      },
      o.orgId,
    );
    assert.equal(c.statusCode, 201, c.body);
    const test = await o.c.post(`/api/v1/org/sso/connections/${c.json().id}/test`, undefined, o.orgId);
    assert.equal(test.json().test.result, 'pass', test.body);
    const on = await o.c.patch(`/api/v1/org/sso/connections/${c.json().id}`, { enabled: true }, o.orgId);
    assert.equal(on.statusCode, 200, on.body);
    return o.slug;
  }

  /** Starts a sign-in and comes back to the callback as the IdP would; returns the callback page. */
  async function signIn(slug: string) {
    const b = new Browser(tt);
    const start = await b.latchkey('GET', `/api/sso/start?org=${encodeURIComponent(slug)}`);
    assert.equal(start.statusCode, 302, start.body);
    const auth = new URL(String(start.headers.location));
    lastNonce = auth.searchParams.get('nonce')!;
    const iss = auth.origin + auth.pathname.replace(/\/auth$/, '');
    const q = new URLSearchParams({ code: 'the-code', state: auth.searchParams.get('state')!, iss });
    return b.latchkey('GET', `/api/sso/oidc/callback?${q}`);
  }

  it('control: with loopback endpoints the same exchange gets past the token and the keys', async () => {
    const slug = await connected(`${base}/local`);
    const res = await signIn(slug);
    // The ID token was redeemed and verified; what stops it now is the org's domain rules.
    assert.equal(res.statusCode, 403, res.body);
    assert.notEqual(pageCode(res.body), 'idp_error');
  });

  it('a token_endpoint on a private address is refused: idp_error (not an outage), no session', async () => {
    const slug = await connected(`${base}/private-token`);
    const res = await signIn(slug);
    assert.equal(res.statusCode, 502, res.body);
    // A connect attempt to 10.0.0.1 would have timed out as idp_unreachable: it was never made.
    assert.equal(pageCode(res.body), 'idp_error');
  });

  it('a jwks_uri on the metadata-service address is refused: idp_error, no session', async () => {
    const slug = await connected(`${base}/private-jwks`);
    const res = await signIn(slug);
    assert.equal(res.statusCode, 502, res.body);
    assert.equal(pageCode(res.body), 'idp_error');
  });
});
