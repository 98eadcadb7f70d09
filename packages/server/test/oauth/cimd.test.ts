import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import { fetchClientMetadata, type MetadataFetchError } from '../../src/oauth/metadata-fetch.js';
import { isForbiddenAddress } from '../../src/lib/outbound-address.js';
import { authorizeUrl, consent, form, MCP_URL, OAUTH_TOML, pkce } from './helpers.js';

/** A real HTTP server on loopback serving client metadata documents, counting fetches per path. */
async function documentServer() {
  const docs = new Map<string, { body: unknown; headers?: Record<string, string> }>();
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const d = docs.get(path);
    if (!d) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', ...d.headers });
    res.end(JSON.stringify(d.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    serve(path: string, body: (url: string) => unknown, headers?: Record<string, string>) {
      const url = base + path;
      docs.set(path, { body: body(url), ...(headers ? { headers } : {}) });
      return url;
    },
    hits: (path: string) => hits.get(path) ?? 0,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const CALLBACK = 'http://127.0.0.1/callback';

describe('Client ID Metadata Documents', () => {
  let t: TestServer;
  let docs: Awaited<ReturnType<typeof documentServer>>;
  before(async () => {
    docs = await documentServer();
    t = await testServer({ toml: OAUTH_TOML, env: { CIMD_ALLOW_LOOPBACK: 'true' } });
  });
  after(async () => {
    await t.close();
    await docs.close();
  });

  const doc = (url: string) => ({
    client_id: url,
    client_name: 'Metadata Client',
    redirect_uris: [CALLBACK],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
  });

  it('uses a fetched document as the client, through consent and the token endpoint', async () => {
    const clientId = docs.serve('/good.json', doc, { 'cache-control': 'max-age=300' });
    const browser = t.client();
    await browser.signup();
    const p = pkce();
    const url = authorizeUrl({
      clientId,
      redirectUri: 'http://127.0.0.1:43210/callback',
      challenge: p.challenge,
    });
    const page = await browser.get(url);
    assert.equal(page.statusCode, 200, page.body);
    assert.match(page.body, /Metadata Client/);
    assert.match(page.body, /metadata document at/);
    const back = await consent(browser, url);
    const code = back.searchParams.get('code')!;
    const res = await form(t, '/api/oauth/token', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: 'http://127.0.0.1:43210/callback',
      code_verifier: p.verifier,
      client_id: clientId,
      resource: MCP_URL,
    });
    assert.equal(res.statusCode, 200, res.body);
    // max-age=300: the second authorization uses the stored copy.
    const before = docs.hits('/good.json');
    assert.equal((await browser.get(url)).statusCode, 303);
    assert.equal(docs.hits('/good.json'), before);
  });

  it('refetches a document served with no-store', async () => {
    const clientId = docs.serve('/nostore.json', doc, { 'cache-control': 'no-store' });
    const browser = t.client();
    await browser.signup();
    await browser.get(authorizeUrl({ clientId, redirectUri: CALLBACK }));
    await browser.get(authorizeUrl({ clientId, redirectUri: CALLBACK }));
    assert.equal(docs.hits('/nostore.json'), 2);
  });

  for (const [what, path, body] of [
    [
      'a document naming another client_id',
      '/other-id.json',
      (u: string) => ({ ...doc(u), client_id: `${u}x` }),
    ],
    [
      'a document asking for a client secret',
      '/secret.json',
      (u: string) => ({ ...doc(u), token_endpoint_auth_method: 'client_secret_basic' }),
    ],
    [
      'a document with a javascript: redirect URI',
      '/js.json',
      (u: string) => ({ ...doc(u), redirect_uris: ['javascript:alert(1)'] }),
    ],
    ['a document that is not an object', '/array.json', () => [1, 2]],
  ] as const) {
    it(`refuses ${what} on a page, without redirecting`, async () => {
      const clientId = docs.serve(path, body);
      const browser = t.client();
      await browser.signup();
      const res = await browser.get(authorizeUrl({ clientId, redirectUri: CALLBACK }));
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.headers.location, undefined);
      assert.match(String(res.headers['content-type']), /text\/html/);
    });
  }

  it('refuses a document that is not there', async () => {
    const browser = t.client();
    await browser.signup();
    const res = await browser.get(
      authorizeUrl({ clientId: `${docs.base}/missing.json`, redirectUri: CALLBACK }),
    );
    assert.equal(res.statusCode, 400);
    assert.equal(res.headers.location, undefined);
  });
});

describe('Client ID Metadata Documents without the loopback test setting', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ toml: OAUTH_TOML });
  });
  after(() => t.close());

  for (const [clientId, why] of [
    ['https://127.0.0.1/client.json', /forbidden_address/],
    ['https://10.0.0.1/client.json', /forbidden_address/],
    ['https://169.254.169.254/latest/meta-data', /forbidden_address/],
    ['https://[::1]/client.json', /forbidden_address/],
    ['https://[::ffff:10.0.0.1]/client.json', /forbidden_address/],
    ['https://localhost/client.json', /forbidden_address/],
    ['http://127.0.0.1:9/client.json', /unknown/],
  ] as const) {
    it(`refuses ${clientId} before any redirect`, async () => {
      const browser = t.client();
      await browser.signup();
      const res = await browser.get(authorizeUrl({ clientId, redirectUri: CALLBACK }));
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.headers.location, undefined);
      assert.match(res.body, why);
    });
  }
});

describe('the metadata fetcher', () => {
  it('refuses every special-purpose address and allows public ones', () => {
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '240.0.0.1',
      '255.255.255.255',
      '198.18.0.1',
      '::1',
      '::',
      'fe80::1',
      'fc00::1',
      'fd12::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '64:ff9b::a00:1',
      '2002:a00:1::1',
      'ff02::1',
      'not-an-ip',
    ]) {
      assert.equal(isForbiddenAddress(ip, false), true, ip);
    }
    for (const ip of ['8.8.8.8', '1.1.1.1', '2606:4700::1111', '2a00:1450:4001::1', '::ffff:8.8.8.8']) {
      assert.equal(isForbiddenAddress(ip, false), false, ip);
    }
    assert.equal(isForbiddenAddress('127.0.0.1', true), false);
    assert.equal(isForbiddenAddress('10.0.0.1', true), true);
  });

  async function server(
    handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void,
  ) {
    const s = createServer(handler);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
      close: () => new Promise<void>((r) => s.close(() => r())),
    };
  }
  const code = async (p: Promise<unknown>) => {
    try {
      await p;
      return 'ok';
    } catch (err) {
      return (err as MetadataFetchError).code;
    }
  };

  it('times out, caps the size, follows same-origin redirects only, and reads caching headers', async () => {
    const s = await server((req, res) => {
      if (req.url === '/slow') return; // never answers
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"x":"${'a'.repeat(70_000)}"}`);
        return;
      }
      if (req.url === '/hop') {
        res.writeHead(302, { location: '/doc' }).end();
        return;
      }
      if (req.url === '/away') {
        res.writeHead(302, { location: 'http://127.0.0.2:1/doc' }).end();
        return;
      }
      if (req.url === '/text') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('{}');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=120' })
        .end('{"a":1}');
    });
    try {
      assert.equal(
        await code(fetchClientMetadata(`${s.url}/slow`, { allowLoopback: true, timeoutMs: 300 })),
        'timeout',
      );
      assert.equal(await code(fetchClientMetadata(`${s.url}/big`, { allowLoopback: true })), 'too_large');
      assert.equal(
        await code(fetchClientMetadata(`${s.url}/away`, { allowLoopback: true })),
        'redirect_refused',
      );
      assert.equal(await code(fetchClientMetadata(`${s.url}/text`, { allowLoopback: true })), 'bad_content');
      assert.equal(await code(fetchClientMetadata(`${s.url}/doc`)), 'invalid_url');
      const ok = await fetchClientMetadata(`${s.url}/hop`, { allowLoopback: true });
      assert.deepEqual(ok, { document: { a: 1 }, cacheMs: 120_000 });
    } finally {
      await s.close();
    }
  });
});
