import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  fetchClientMetadata,
  METADATA_DEFAULT_CACHE_MS,
  METADATA_MAX_BYTES,
  METADATA_MAX_CACHE_MS,
  METADATA_MIN_CACHE_MS,
  MetadataFetchError,
  type MetadataFetchErrorCode,
  type MetadataFetchOptions,
} from '../../src/oauth/metadata-fetch.js';
import { isForbiddenAddress } from '../../src/lib/outbound-address.js';

/**
 * The metadata fetcher against real HTTP servers on 127.0.0.1 (port 0). Nothing here reaches the
 * internet: every other address is a literal the fetcher refuses before opening a socket, which
 * the `net.client.socket` diagnostics channel confirms.
 */

const SECRET = 'body-secret-7f3a';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A loopback server answering by path, remembering each request's path and headers. */
async function loopbackServer(routes: Record<string, Handler>) {
  const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    seen.push({ path, headers: req.headers });
    const route = routes[path];
    if (route) route(req, res);
    else res.writeHead(404, { 'content-type': 'application/json' }).end(`{"error":"${SECRET}"}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Answers 200 with a JSON body and the given extra headers. */
const json =
  (body: string, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(body);
  };

/** The error code a fetch fails with (or 'ok'), checking that it is a MetadataFetchError. */
async function failure(url: string, opts?: MetadataFetchOptions): Promise<MetadataFetchErrorCode | 'ok'> {
  try {
    await fetchClientMetadata(url, opts);
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof MetadataFetchError, `not a MetadataFetchError: ${String(err)}`);
    assert.equal(err.name, 'MetadataFetchError');
    assert.ok(!err.message.includes(SECRET), `the message leaks the body: ${err.message}`);
    return err.code;
  }
}

/** Counts the client sockets Node opens while `run` runs. */
async function socketsOpenedDuring(run: () => Promise<unknown>): Promise<number> {
  let count = 0;
  const onSocket = () => {
    count++;
  };
  subscribe('net.client.socket', onSocket);
  try {
    await run();
  } finally {
    unsubscribe('net.client.socket', onSocket);
  }
  return count;
}

const LOOP = { allowLoopback: true } as const;

describe('isForbiddenAddress', () => {
  const forbidden = [
    // IPv4 special-purpose ranges
    '0.0.0.0',
    '0.1.2.3',
    '10.0.0.1',
    '10.255.255.255',
    '100.64.0.1',
    '100.127.255.255',
    '127.0.0.1',
    '127.255.255.254',
    '169.254.169.254',
    '172.16.0.1',
    '172.31.255.255',
    '192.0.0.1',
    '192.0.2.1',
    '192.168.0.1',
    '198.18.0.1',
    '198.19.255.255',
    '198.51.100.1',
    '203.0.113.1',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    // IPv6 special-purpose ranges
    '::',
    '::1',
    '0:0:0:0:0:0:0:1',
    'fe80::1',
    'FE80::1',
    'febf:ffff::1',
    'fc00::1',
    'fd12:3456::1',
    'ff02::1',
    '2001:db8::1',
    // IPv4-mapped and IPv4-compatible IPv6: the embedded address decides
    '::ffff:127.0.0.1',
    '::FFFF:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:a9fe:a9fe',
    '::127.0.0.1',
    '::7f00:1',
    // NAT64 64:ff9b::/96
    '64:ff9b::127.0.0.1',
    '64:ff9b::7f00:1',
    '64:ff9b::a00:1',
    '64:ff9b::a9fe:a9fe',
    // 6to4 2002::/16
    '2002:7f00:1::1',
    '2002:a00:1::',
    '2002:c0a8:101::1',
    // not an IP address at all
    'not-an-ip',
    'localhost',
    '127.1',
    '',
  ];
  const allowed = [
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '198.20.0.1',
    '2606:4700::1111',
    '2a00:1450:4001::1',
    '::ffff:8.8.8.8',
    '::ffff:808:808',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ];

  for (const ip of forbidden) {
    it(`refuses ${JSON.stringify(ip)}`, () => {
      assert.equal(isForbiddenAddress(ip, false), true);
    });
  }
  for (const ip of allowed) {
    it(`allows ${ip}`, () => {
      assert.equal(isForbiddenAddress(ip, false), false);
      assert.equal(isForbiddenAddress(ip, true), false);
    });
  }

  it('allows loopback only with allowLoopback, and nothing else besides', () => {
    for (const ip of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '64:ff9b::7f00:1']) {
      assert.equal(isForbiddenAddress(ip, true), false, ip);
    }
    for (const ip of ['10.0.0.1', '192.168.1.1', '169.254.169.254', '::', '0.0.0.0', 'fc00::1', 'fe80::1']) {
      assert.equal(isForbiddenAddress(ip, true), true, ip);
    }
  });
});

describe('fetchClientMetadata', () => {
  let s: Awaited<ReturnType<typeof loopbackServer>>;
  let other: Awaited<ReturnType<typeof loopbackServer>>;
  const DOC = '{"client_id":"x","client_name":"Doc"}';

  before(async () => {
    other = await loopbackServer({ '/doc': json(DOC) });
    s = await loopbackServer({
      '/doc': json(DOC, { 'cache-control': 'max-age=120' }),
      '/no-store': json(DOC, { 'cache-control': 'no-store' }),
      '/no-cache': json(DOC, { 'cache-control': 'private, no-cache' }),
      '/max-age-0': json(DOC, { 'cache-control': 'max-age=0' }),
      '/max-age-1': json(DOC, { 'cache-control': 'public, max-age=1' }),
      '/max-age-huge': json(DOC, { 'cache-control': 'max-age=999999999' }),
      '/plain': json(DOC),
      '/expires': json(DOC, {
        date: 'Tue, 24 Nov 2026 10:00:00 GMT',
        expires: 'Tue, 24 Nov 2026 10:10:00 GMT',
      }),
      '/expired': json(DOC, {
        date: 'Tue, 24 Nov 2026 10:00:00 GMT',
        expires: 'Tue, 24 Nov 2026 09:00:00 GMT',
      }),
      '/charset': (_req, res) => {
        res.writeHead(200, { 'content-type': 'Application/JSON; charset=utf-8' }).end(DOC);
      },
      '/plus-json': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/vnd.example+json' }).end(DOC);
      },
      '/never': () => {}, // accepts the connection, never answers
      '/stall-body': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"a":'); // and never the rest
      },
      '/declared-large': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10_000_000) });
        res.write('{"a":'); // the length alone must refuse it, before any timeout
      },
      '/big': json(`{"x":"${'a'.repeat(METADATA_MAX_BYTES)}"}`),
      '/stream': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }); // chunked, no length
        res.write('{"x":"');
        const chunk = 'a'.repeat(8192);
        const timer = setInterval(() => res.write(chunk), 1);
        res.on('close', () => clearInterval(timer));
      },
      '/not-found': (_req, res) => {
        res.writeHead(404, { 'content-type': 'application/json' }).end(`{"error":"${SECRET}"}`);
      },
      '/error': (_req, res) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(SECRET);
      },
      '/no-content': (_req, res) => {
        res.writeHead(204).end();
      },
      '/redirect-without-location': (_req, res) => {
        res.writeHead(302).end(SECRET);
      },
      '/html': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<p>${SECRET}</p>`);
      },
      '/no-type': (_req, res) => {
        res.writeHead(200).end(DOC);
      },
      '/invalid-json': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(`{"a": ${SECRET}`);
      },
      '/array': json(`["${SECRET}"]`),
      '/null': json('null'),
      '/string': json(`"${SECRET}"`),
      '/hop': (_req, res) => {
        res.writeHead(302, { location: '/doc' }).end();
      },
      '/hop-absolute': (_req, res) => {
        res.writeHead(301, { location: s.url('/doc') }).end();
      },
      '/chain-3': (_req, res) => {
        res.writeHead(307, { location: '/chain-2' }).end();
      },
      '/chain-2': (_req, res) => {
        res.writeHead(308, { location: '/chain-1' }).end();
      },
      '/chain-1': (_req, res) => {
        res.writeHead(303, { location: '/doc' }).end();
      },
      '/chain-4': (_req, res) => {
        res.writeHead(302, { location: '/chain-3' }).end();
      },
      '/to-other-port': (_req, res) => {
        res.writeHead(302, { location: other.url('/doc') }).end();
      },
      '/to-other-host': (_req, res) => {
        res.writeHead(302, { location: `http://localhost:${s.port}/doc` }).end();
      },
      '/to-https': (_req, res) => {
        res.writeHead(302, { location: `https://127.0.0.1:${s.port}/doc` }).end();
      },
      '/to-metadata-service': (_req, res) => {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      },
    });
  });
  after(async () => {
    await s.close();
    await other.close();
  });

  describe('with the loopback test setting', () => {
    it('returns the parsed document and the max-age as cacheMs', async () => {
      const got = await fetchClientMetadata(s.url('/doc'), LOOP);
      assert.deepEqual(got, { document: { client_id: 'x', client_name: 'Doc' }, cacheMs: 120_000 });
    });

    it('opens a socket that the diagnostics channel sees (so the zero counts below mean something)', async () => {
      assert.ok((await socketsOpenedDuring(() => fetchClientMetadata(s.url('/doc'), LOOP))) >= 1);
    });

    it('sends accept and user-agent, and no cookie or authorization', async () => {
      const before = s.seen.length;
      await fetchClientMetadata(s.url('/doc'), LOOP);
      const req = s.seen[before];
      assert.ok(req);
      assert.equal(req.path, '/doc');
      assert.equal(req.headers.accept, 'application/json');
      assert.match(String(req.headers['user-agent']), /^Latchkey/);
      assert.equal(req.headers.cookie, undefined);
      assert.equal(req.headers.authorization, undefined);
    });

    it('reads cacheMs from the caching headers', async () => {
      const cacheMs = async (path: string) => (await fetchClientMetadata(s.url(path), LOOP)).cacheMs;
      assert.equal(await cacheMs('/no-store'), 0);
      assert.equal(await cacheMs('/no-cache'), 0);
      assert.equal(await cacheMs('/max-age-0'), 0);
      assert.equal(await cacheMs('/plain'), METADATA_DEFAULT_CACHE_MS);
      assert.equal(await cacheMs('/max-age-1'), METADATA_MIN_CACHE_MS);
      assert.equal(await cacheMs('/max-age-huge'), METADATA_MAX_CACHE_MS);
      assert.equal(await cacheMs('/expires'), 10 * 60_000);
      assert.equal(await cacheMs('/expired'), 0);
    });

    it('accepts application/json with parameters and +json types', async () => {
      assert.equal(await failure(s.url('/charset'), LOOP), 'ok');
      assert.equal(await failure(s.url('/plus-json'), LOOP), 'ok');
    });

    it('accepts http://localhost (which resolves to loopback)', async () => {
      const got = await fetchClientMetadata(`http://localhost:${s.port}/doc`, LOOP);
      assert.equal(got.cacheMs, 120_000);
    });

    it('still refuses private and link-local literals', async () => {
      for (const url of ['https://10.0.0.1/x', 'https://169.254.169.254/latest', 'https://[fd00::1]/x']) {
        const opened = await socketsOpenedDuring(async () => {
          assert.equal(await failure(url, LOOP), 'forbidden_address', url);
        });
        assert.equal(opened, 0, url);
      }
    });

    it('refuses http on anything but a loopback host', async () => {
      for (const url of ['http://example.com/client.json', 'http://10.0.0.1/x', 'http://8.8.8.8/x']) {
        const opened = await socketsOpenedDuring(async () => {
          assert.equal(await failure(url, LOOP), 'invalid_url', url);
        });
        assert.equal(opened, 0, url);
      }
    });
  });

  describe('without the loopback test setting', () => {
    it('refuses a loopback literal before connecting', async () => {
      const before = s.seen.length;
      const opened = await socketsOpenedDuring(async () => {
        assert.equal(await failure(`https://127.0.0.1:${s.port}/doc`), 'forbidden_address');
        assert.equal(await failure(`https://[::1]:${s.port}/doc`), 'forbidden_address');
      });
      assert.equal(opened, 0);
      assert.equal(s.seen.length, before);
    });

    it('refuses http even on loopback', async () => {
      assert.equal(await failure(s.url('/doc')), 'invalid_url');
    });

    it('refuses private, mapped and metadata-service literals without network access', async () => {
      const urls = [
        'https://10.0.0.1/x',
        'https://192.168.1.1/client.json',
        'https://172.16.0.1/x',
        'https://100.64.0.1/x',
        'https://0.0.0.0/x',
        'https://169.254.169.254/latest',
        'https://[::ffff:127.0.0.1]/x',
        'https://[::ffff:169.254.169.254]/latest',
        'https://[64:ff9b::a9fe:a9fe]/latest',
        'https://[2002:a9fe:a9fe::1]/latest',
        'https://[fe80::1]/x',
        'https://[fc00::1]/x',
        'https://[::]/x',
        'https://0x7f000001/x', // the URL parser reads it as 127.0.0.1
        'https://2130706433/x',
      ];
      for (const url of urls) {
        const opened = await socketsOpenedDuring(async () => {
          assert.equal(await failure(url, { timeoutMs: 200 }), 'forbidden_address', url);
        });
        assert.equal(opened, 0, url);
      }
    });

    it('refuses a hostname that resolves to loopback', async () => {
      const before = s.seen.length;
      assert.equal(await failure(`https://localhost:${s.port}/doc`), 'forbidden_address');
      assert.equal(s.seen.length, before);
    });
  });

  describe('URL shape', () => {
    const cases: [string, string][] = [
      ['not a URL', 'not a url'],
      ['a relative reference', '/client.json'],
      ['a fragment', 'https://client.example/metadata.json#frag'],
      ['an empty fragment', 'https://client.example/metadata.json#'],
      ['a username', 'https://user@client.example/metadata.json'],
      ['a username and password', 'https://user:pass@client.example/metadata.json'],
      ['no path', 'https://client.example'],
      ['only "/" as path', 'https://client.example/'],
      ['another scheme', 'ftp://client.example/metadata.json'],
      ['a data URL', 'data:application/json,{}'],
      ['http on a public host', 'http://client.example/metadata.json'],
    ];
    for (const [what, url] of cases) {
      it(`refuses ${what}`, async () => {
        const opened = await socketsOpenedDuring(async () => {
          assert.equal(await failure(url), 'invalid_url');
          assert.equal(await failure(url, LOOP), 'invalid_url');
        });
        assert.equal(opened, 0);
      });
    }

    it('refuses a loopback URL with a fragment, credentials or no path even with the test setting', async () => {
      assert.equal(await failure(`${s.url('/doc')}#x`, LOOP), 'invalid_url');
      assert.equal(await failure(`http://u:p@127.0.0.1:${s.port}/doc`, LOOP), 'invalid_url');
      assert.equal(await failure(`http://127.0.0.1:${s.port}/`, LOOP), 'invalid_url');
    });
  });

  describe('timeouts and size', () => {
    it('times out on a server that never answers', async () => {
      const started = Date.now();
      assert.equal(await failure(s.url('/never'), { ...LOOP, timeoutMs: 300 }), 'timeout');
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 3000, `took ${took} ms`);
    });

    it('times out on a body that never finishes', async () => {
      assert.equal(await failure(s.url('/stall-body'), { ...LOOP, timeoutMs: 300 }), 'timeout');
    });

    it('refuses a declared content-length over the cap without waiting for the body', async () => {
      assert.equal(await failure(s.url('/declared-large'), { ...LOOP, timeoutMs: 5000 }), 'too_large');
    });

    it('refuses a body over the cap', async () => {
      assert.equal(await failure(s.url('/big'), LOOP), 'too_large');
    });

    it('refuses a chunked body once it streams past the cap', async () => {
      assert.equal(await failure(s.url('/stream'), { ...LOOP, timeoutMs: 5000 }), 'too_large');
      assert.equal(
        await failure(s.url('/stream'), { ...LOOP, maxBytes: 1000, timeoutMs: 5000 }),
        'too_large',
      );
    });

    it('honours a smaller maxBytes', async () => {
      assert.equal(await failure(s.url('/doc'), { ...LOOP, maxBytes: 10 }), 'too_large');
      assert.equal(await failure(s.url('/doc'), { ...LOOP, maxBytes: DOC.length }), 'ok');
    });
  });

  describe('response checks', () => {
    it('refuses any status but 200', async () => {
      for (const path of ['/not-found', '/error', '/no-content', '/redirect-without-location']) {
        assert.equal(await failure(s.url(path), LOOP), 'bad_status', path);
      }
    });

    it('refuses a content type that is not JSON', async () => {
      assert.equal(await failure(s.url('/html'), LOOP), 'bad_content');
      assert.equal(await failure(s.url('/no-type'), LOOP), 'bad_content');
    });

    it('refuses invalid JSON and JSON that is not an object', async () => {
      for (const path of ['/invalid-json', '/array', '/null', '/string']) {
        assert.equal(await failure(s.url(path), LOOP), 'bad_content', path);
      }
    });
  });

  describe('redirects', () => {
    it('follows a redirect within the same origin', async () => {
      assert.deepEqual(await fetchClientMetadata(s.url('/hop'), LOOP), {
        document: { client_id: 'x', client_name: 'Doc' },
        cacheMs: 120_000,
      });
      assert.equal((await fetchClientMetadata(s.url('/hop-absolute'), LOOP)).cacheMs, 120_000);
    });

    it('follows three redirects and refuses a fourth', async () => {
      assert.equal(await failure(s.url('/chain-3'), LOOP), 'ok');
      assert.equal(await failure(s.url('/chain-4'), LOOP), 'redirect_refused');
    });

    it('refuses a redirect to another port, host or scheme', async () => {
      const otherHits = other.seen.length;
      assert.equal(await failure(s.url('/to-other-port'), LOOP), 'redirect_refused');
      assert.equal(other.seen.length, otherHits);
      const before = s.seen.length;
      assert.equal(await failure(s.url('/to-other-host'), LOOP), 'redirect_refused');
      assert.equal(await failure(s.url('/to-https'), LOOP), 'redirect_refused');
      assert.equal(await failure(s.url('/to-metadata-service'), LOOP), 'redirect_refused');
      assert.deepEqual(
        s.seen.slice(before).map((r) => r.path),
        ['/to-other-host', '/to-https', '/to-metadata-service'],
      );
    });
  });
});
