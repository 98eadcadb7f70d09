// test-backend: embedded — the subject is the SDK's HTTP adapters, not storage
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import express from 'express';
import { checkProxyPath, latchkeyFetchProxy, latchkeyProxy } from '../src/index.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** A request with the exact path given: node:http does not normalise it. */
function send(
  host: string,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: string[] } = {},
): Promise<Answer> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname, port: Number(port), path, method: o.method ?? 'GET', headers: o.headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    for (const chunk of o.body ?? []) req.write(chunk);
    req.end();
  });
}

/** Paths that must never reach Latchkey, however a server downstream would read them. */
const TRICKS = [
  '/admin',
  '/api/authx',
  '/api/auth/../../admin',
  '/api/auth/%2e%2e/admin',
  '/api/auth/%2E%2E/admin',
  '/api/auth/.%2e/admin',
  '/api/auth/./session',
  '/api/auth/..',
  '/api/auth%2Fx',
  '/api/auth/..%2Fadmin',
  '/api/auth/x%2fy',
  '/api/auth/x%5Cy',
  '//api/auth',
  '/api/auth//session',
  '/api/auth\\..\\admin',
  '/api/auth/\\..\\admin',
  '/api/auth/%00',
  '/api/auth/%0a',
  '/api/auth/%zz',
  '/api/auth/%e2%28',
  '/api/auth/%252e%252e/admin',
  '/api/auth/x;/../../admin',
  '/login/../admin',
];

describe('latchkeyProxy', () => {
  let upstream: Server;
  let upstreamHost: string;
  let downHost: string;
  const seen: Seen[] = [];
  const servers: Server[] = [];

  before(async () => {
    upstream = createServer(async (req, res) => {
      let body = '';
      for await (const c of req) body += c;
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.url === '/login/go') {
        res.writeHead(303, { location: '/consent?x=1' }).end();
        return;
      }
      res.setHeader('set-cookie', ['lk_session=abc; Path=/; HttpOnly; SameSite=Lax', 'lk_csrf=def; Path=/']);
      res.writeHead(201, {
        'content-type': 'application/json',
        'x-upstream': 'yes',
        'keep-alive': 'timeout=5',
      });
      res.end(JSON.stringify({ ok: true }));
    });
    upstreamHost = await listen(upstream);
    const gone = createServer();
    downHost = await listen(gone);
    await close(gone);
  });
  beforeEach(() => {
    seen.length = 0;
  });
  after(async () => {
    for (const s of servers) await close(s);
    await close(upstream);
  });

  async function proxyAt(target: string, allow = ['/api/auth', '/login', '/api/oauth/']) {
    const s = createServer(latchkeyProxy({ target, allow }));
    servers.push(s);
    return listen(s);
  }

  it('forwards an allowed path with Cookie, Authorization and the org header intact, the query kept and Host rewritten', async () => {
    const proxy = await proxyAt(`http://${upstreamHost}`);
    const res = await send(proxy, '/api/auth/session?next=%2Fapp&x=1&x=2', {
      headers: {
        cookie: 'lk_session=s1; theme=dark',
        authorization: 'Bearer lk_at_example',
        'x-org-id': 'acme',
        connection: 'keep-alive, x-hop',
        'x-hop': 'drop me',
        'proxy-authorization': 'Basic c2VjcmV0',
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-host': 'evil.example',
      },
    });
    assert.equal(res.status, 201, res.body);
    assert.equal(seen.length, 1);
    const up = seen[0]!;
    assert.equal(up.method, 'GET');
    assert.equal(up.url, '/api/auth/session?next=%2Fapp&x=1&x=2');
    assert.equal(up.headers.cookie, 'lk_session=s1; theme=dark');
    assert.equal(up.headers.authorization, 'Bearer lk_at_example');
    // The org a personal token acts in travels with the request, as Latchkey's API reads it.
    assert.equal(up.headers['x-org-id'], 'acme');
    assert.equal(up.headers.host, upstreamHost);
    assert.equal(up.headers['x-forwarded-host'], proxy);
    assert.equal(up.headers['x-forwarded-proto'], 'http');
    assert.match(String(up.headers['x-forwarded-for']), /^(::ffff:)?127\.0\.0\.1$/);
    assert.equal(up.headers['x-hop'], undefined);
    assert.equal(up.headers['proxy-authorization'], undefined);
    assert.equal(up.headers['accept-encoding'], 'identity');
  });

  it('passes back status, headers and every Set-Cookie as its own header, minus hop-by-hop fields', async () => {
    const proxy = await proxyAt(`http://${upstreamHost}`);
    const res = await send(proxy, '/api/oauth/authorize');
    assert.equal(res.status, 201);
    assert.deepEqual(res.headers['set-cookie'], [
      'lk_session=abc; Path=/; HttpOnly; SameSite=Lax',
      'lk_csrf=def; Path=/',
    ]);
    assert.equal(res.headers['x-upstream'], 'yes');
    assert.equal(res.headers['content-type'], 'application/json');
    assert.notEqual(res.headers['keep-alive'], 'timeout=5');
    assert.deepEqual(JSON.parse(res.body), { ok: true });
  });

  it('forwards a POST body, with a length or chunked', async () => {
    const proxy = await proxyAt(`http://${upstreamHost}`);
    const json = JSON.stringify({ email: 'a@example.com', password: 'a sturdy passphrase 42' });
    const sized = await send(proxy, '/api/auth/signin', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': String(json.length),
        origin: 'http://app',
      },
      body: [json],
    });
    assert.equal(sized.status, 201);
    const chunked = await send(proxy, '/api/auth/signin', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: ['email=a%40example.com', '&password=x'],
    });
    assert.equal(chunked.status, 201);
    assert.equal(seen.length, 2);
    assert.equal(seen[0]!.method, 'POST');
    assert.equal(seen[0]!.body, json);
    assert.equal(seen[0]!.headers['content-type'], 'application/json');
    assert.equal(seen[0]!.headers.origin, 'http://app');
    assert.equal(seen[1]!.body, 'email=a%40example.com&password=x');
  });

  it('does not follow redirects', async () => {
    const proxy = await proxyAt(`http://${upstreamHost}`);
    const res = await send(proxy, '/login/go');
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/consent?x=1');
    assert.equal(seen.length, 1);
  });

  it('refuses blocked paths and traversal tricks with 404 JSON, forwarding nothing', async () => {
    const proxy = await proxyAt(`http://${upstreamHost}`);
    for (const path of TRICKS) {
      const res = await send(proxy, path, { headers: { cookie: 'lk_session=s1' } });
      assert.equal(res.status, 404, path);
      assert.equal(res.headers['content-type'], 'application/json', path);
      assert.equal(JSON.parse(res.body).error, 'not_found', path);
    }
    assert.equal(seen.length, 0);
  });

  it('answers 502 JSON, without a stack, when Latchkey cannot be reached', async () => {
    const proxy = await proxyAt(`http://${downHost}`);
    const res = await send(proxy, '/api/auth/session');
    assert.equal(res.status, 502);
    assert.deepEqual(JSON.parse(res.body), {
      error: 'bad_gateway',
      error_description: 'Latchkey could not be reached.',
    });
  });

  it('in Express: forwards full paths even when mounted on one, passes other paths to next()', async () => {
    const app = express();
    app.use('/api/auth', latchkeyProxy({ target: `http://${upstreamHost}`, allow: ['/api/auth'] }));
    app.use(latchkeyProxy({ target: `http://${upstreamHost}`, allow: ['/login'] }));
    app.get('/own', (_req, res) => {
      res.json({ own: true });
    });
    const s = createServer(app);
    servers.push(s);
    const host = await listen(s);
    assert.equal((await send(host, '/api/auth/session?a=b')).status, 201);
    assert.equal((await send(host, '/login')).status, 201);
    assert.deepEqual(
      seen.map((x) => x.url),
      ['/api/auth/session?a=b', '/login'],
    );
    assert.deepEqual(JSON.parse((await send(host, '/own')).body), { own: true });
    const tricked = await send(host, '/login/..%2Fadmin');
    assert.equal(tricked.status, 404);
    assert.equal(JSON.parse(tricked.body).error, 'not_found');
    assert.equal(seen.length, 2);
  });

  it('refuses bad options at construction', () => {
    const target = `http://${upstreamHost}`;
    for (const make of [latchkeyProxy, latchkeyFetchProxy]) {
      for (const bad of ['', '/relative', 'ftp://example.com', 'not a url', 'http://u:p@example.com'])
        assert.throws(() => make({ target: bad, allow: ['/login'] }), TypeError, bad);
      for (const allow of [[], ['login'], ['/'], ['/a/../b'], ['//x'], [7]])
        assert.throws(() => make({ target, allow: allow as string[] }), TypeError, JSON.stringify(allow));
    }
  });

  it('checkProxyPath: prefixes match at segment boundaries only', () => {
    const allow = ['/api/auth', '/api/oauth/'];
    assert.deepEqual(checkProxyPath('/api/auth', allow), { forward: '/api/auth' });
    assert.deepEqual(checkProxyPath('/api/auth/session?x=1', allow), { forward: '/api/auth/session?x=1' });
    assert.deepEqual(checkProxyPath('/api/oauth/token', allow), { forward: '/api/oauth/token' });
    assert.deepEqual(checkProxyPath('/api/oauth', allow), { refuse: 'outside' });
    assert.deepEqual(checkProxyPath('/api/authx', allow), { refuse: 'outside' });
    assert.deepEqual(checkProxyPath('/api/auth/%2e%2e/x', allow), { refuse: 'unsafe' });
    assert.deepEqual(checkProxyPath('/api/auth/x?a=b#c', allow), { refuse: 'unsafe' });
  });

  describe('latchkeyFetchProxy', () => {
    it('forwards with cookies, body and query; every Set-Cookie comes back', async () => {
      const proxy = latchkeyFetchProxy({ target: `http://${upstreamHost}`, allow: ['/api/auth'] });
      const res = await proxy(
        new Request('http://app.test/api/auth/signin?next=%2Fapp', {
          method: 'POST',
          headers: {
            cookie: 'lk_session=s1',
            authorization: 'Bearer lk_at_example',
            'content-type': 'application/json',
            'x-forwarded-for': '203.0.113.9',
          },
          body: '{"email":"a@example.com"}',
        }),
        { remoteAddress: '198.51.100.7' },
      );
      assert.equal(res.status, 201);
      assert.deepEqual(res.headers.getSetCookie(), [
        'lk_session=abc; Path=/; HttpOnly; SameSite=Lax',
        'lk_csrf=def; Path=/',
      ]);
      assert.equal(res.headers.get('keep-alive'), null);
      assert.deepEqual(await res.json(), { ok: true });
      const up = seen[0]!;
      assert.equal(up.url, '/api/auth/signin?next=%2Fapp');
      assert.equal(up.body, '{"email":"a@example.com"}');
      assert.equal(up.headers.cookie, 'lk_session=s1');
      assert.equal(up.headers.authorization, 'Bearer lk_at_example');
      assert.equal(up.headers.host, upstreamHost);
      assert.equal(up.headers['x-forwarded-for'], '198.51.100.7');
      assert.equal(up.headers['x-forwarded-host'], 'app.test');
      assert.equal(up.headers['x-forwarded-proto'], 'http');
    });

    it('refuses blocked and encoded paths with 404, forwarding nothing; 502 when Latchkey is down', async () => {
      const proxy = latchkeyFetchProxy({ target: `http://${upstreamHost}`, allow: ['/api/auth'] });
      // The runtime resolves `.`, `..` and `\` while parsing the URL, before the proxy sees it: these
      // two name clean paths under the prefix by the time they arrive, and are forwarded as such.
      const resolved = new Map([
        ['/api/auth/./session', '/api/auth/session'],
        ['/api/auth/\\..\\admin', '/api/auth/admin'],
      ]);
      for (const path of TRICKS.filter((p) => !resolved.has(p))) {
        const res = await proxy(new Request(`http://app.test${path}`));
        assert.equal(res.status, 404, path);
        assert.equal(((await res.json()) as { error: string }).error, 'not_found');
      }
      assert.equal(seen.length, 0);
      for (const [path, forwarded] of resolved) {
        assert.equal((await proxy(new Request(`http://app.test${path}`))).status, 201, path);
        assert.equal(seen.pop()!.url, forwarded);
      }
      const down = latchkeyFetchProxy({ target: `http://${downHost}`, allow: ['/api/auth'] });
      const res = await down(new Request('http://app.test/api/auth/session'));
      assert.equal(res.status, 502);
      assert.equal(((await res.json()) as { error: string }).error, 'bad_gateway');
    });
  });
});
