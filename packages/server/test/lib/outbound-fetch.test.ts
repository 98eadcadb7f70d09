// test-backend: embedded — the subject is the outbound fetch guard, not storage
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isForbiddenAddress } from '../../src/lib/outbound-address.js';
import {
  OutboundFetchError,
  type OutboundFetchErrorCode,
  type OutboundOptions,
  outboundFetch,
  outboundPolicy,
} from '../../src/lib/outbound-fetch.js';
import { outboundFetcher } from '../../src/lib/outbound-fetcher.js';
import { clear, dnsServersSetting, setA } from '../helpers/dns.js';

/**
 * The one guarded outbound fetch (SSRF defence), against real servers on 127.0.0.1 and the test
 * DNS server on loopback. Every refused target is refused before a socket opens (the
 * `net.client.socket` diagnostics channel counts them), so nothing here leaves the machine.
 */

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function loopbackServer(routes: Record<string, Handler>) {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '/');
    const route = routes[req.url ?? '/'];
    if (route) route(req, res);
    else res.writeHead(404).end();
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

/** The code a fetch fails with, or 'ok'; any other error fails the test. */
async function failure(url: string, opts: OutboundOptions): Promise<OutboundFetchErrorCode | 'ok'> {
  try {
    await outboundFetch(url, {}, opts);
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof OutboundFetchError, `not an OutboundFetchError: ${String(err)}`);
    return err.code;
  }
}

const STRICT = { allowLoopback: false } as const;
const LOOP = { allowLoopback: true } as const;

describe('outbound fetch: addresses and spellings', () => {
  // Each is refused without the loopback allowance, before any socket opens.
  const refused: [string, OutboundFetchErrorCode][] = [
    ['https://localhost/x', 'forbidden_address'],
    ['https://LOCALHOST./x', 'forbidden_address'],
    ['https://app.localhost/x', 'forbidden_address'],
    ['https://127.1/x', 'forbidden_address'],
    ['https://0x7f000001/x', 'forbidden_address'],
    ['https://2130706433/x', 'forbidden_address'],
    ['https://0177.0.0.1/x', 'forbidden_address'],
    ['https://127.0.0.1/x', 'forbidden_address'],
    ['https://[::1]/x', 'forbidden_address'],
    ['https://[0:0:0:0:0:0:0:1]/x', 'forbidden_address'],
    ['https://[::ffff:127.0.0.1]/x', 'forbidden_address'],
    ['https://[::ffff:7f00:1]/x', 'forbidden_address'],
    ['https://[::127.0.0.1]/x', 'forbidden_address'],
    ['https://[64:ff9b::a9fe:a9fe]/x', 'forbidden_address'],
    ['https://[2002:a9fe:a9fe::1]/x', 'forbidden_address'],
    ['https://0.0.0.0/x', 'forbidden_address'],
    ['https://0/x', 'forbidden_address'],
    ['https://[::]/x', 'forbidden_address'],
    ['https://10.0.0.1/x', 'forbidden_address'],
    ['https://172.16.0.1/x', 'forbidden_address'],
    ['https://192.168.1.1/x', 'forbidden_address'],
    ['https://169.254.169.254/latest/meta-data/', 'forbidden_address'],
    ['https://100.64.0.1/x', 'forbidden_address'],
    ['https://198.18.0.1/x', 'forbidden_address'],
    ['https://203.0.113.7/x', 'forbidden_address'],
    ['https://240.0.0.1/x', 'forbidden_address'],
    ['https://255.255.255.255/x', 'forbidden_address'],
    ['https://[fd00::1]/x', 'forbidden_address'],
    ['https://[fc00::1]/x', 'forbidden_address'],
    ['https://[fe80::1]/x', 'forbidden_address'],
    ['https://[ff02::1]/x', 'forbidden_address'],
    ['https://[2001:db8::1]/x', 'forbidden_address'],
    ['https://224.0.0.1/x', 'forbidden_address'],
    ['http://public.example/x', 'invalid_url'],
    ['http://8.8.8.8/x', 'invalid_url'],
    ['ftp://public.example/x', 'invalid_url'],
    ['file:///etc/passwd', 'invalid_url'],
    ['https://user:pass@public.example/x', 'invalid_url'],
    ['not a url', 'invalid_url'],
  ];
  for (const [url, code] of refused) {
    it(`refuses ${url} (${code}) without opening a socket`, async () => {
      const opened = await socketsOpenedDuring(async () => {
        assert.equal(await failure(url, STRICT), code);
      });
      assert.equal(opened, 0);
    });
  }

  it('refuses http on a public host even with the loopback allowance (not https)', async () => {
    assert.equal(await failure('http://public.example/x', LOOP), 'invalid_url');
    assert.equal(await failure('http://10.0.0.1/x', LOOP), 'invalid_url');
  });

  it('the loopback allowance opens loopback and nothing else', async () => {
    for (const url of [
      'https://10.0.0.1/x',
      'https://169.254.169.254/x',
      'https://[fd00::1]/x',
      'https://0.0.0.0/x',
      'https://100.64.0.1/x',
    ]) {
      assert.equal(await failure(url, LOOP), 'forbidden_address', url);
    }
    for (const ip of ['127.0.0.1', '::1', '::ffff:127.0.0.1'])
      assert.equal(isForbiddenAddress(ip, true), false);
  });

  it('classifies public unicast as allowed, including mapped and NAT64 forms of it', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808']) {
      assert.equal(isForbiddenAddress(ip, false), false, ip);
    }
    // Not a canonical address: the URL parser normalises spellings, the check never guesses.
    for (const s of ['127.1', '0x7f000001', '2130706433', 'localhost', '', '1::']) {
      assert.equal(isForbiddenAddress(s, false), true, s);
    }
  });
});

describe('outbound fetch: names resolved by the DNS_SERVERS resolver', () => {
  let s: Awaited<ReturnType<typeof loopbackServer>>;
  let policy: ReturnType<typeof outboundPolicy>;
  const names: string[] = [];
  const name = (tag: string) => {
    const n = `${tag}-${process.pid}.outbound.test`;
    names.push(n);
    return n;
  };
  before(async () => {
    s = await loopbackServer({ '/doc': (_q, r) => r.writeHead(200).end('{}') });
    policy = outboundPolicy({ dnsServers: [await dnsServersSetting()] }, false);
  });
  after(async () => {
    for (const n of names) clear(n);
    await s.close();
  });

  it('refuses a name that resolves to 127.0.0.1 (DNS pointing at loopback), and sends nothing', async () => {
    const host = name('loop');
    setA(host, ['127.0.0.1']);
    const opened = await socketsOpenedDuring(async () => {
      assert.equal(await failure(`https://${host}:${s.port}/doc`, policy), 'forbidden_address');
    });
    assert.equal(opened, 0);
    assert.deepEqual(s.seen, []);
  });

  it('refuses a name with an AAAA record for ::1 or a mapped loopback', async () => {
    const v6 = name('loop6');
    setA(v6, ['::1']);
    assert.equal(await failure(`https://${v6}/doc`, policy), 'forbidden_address');
    const mapped = name('mapped');
    setA(mapped, ['::ffff:127.0.0.1']);
    assert.equal(await failure(`https://${mapped}/doc`, policy), 'forbidden_address');
  });

  it('checks every address: one private answer among public ones refuses the name', async () => {
    const host = name('mixed');
    setA(host, ['8.8.8.8', '10.0.0.1']);
    const opened = await socketsOpenedDuring(async () => {
      assert.equal(await failure(`https://${host}/doc`, policy), 'forbidden_address');
    });
    assert.equal(opened, 0);
  });

  it('refuses the cloud metadata address behind a name', async () => {
    const host = name('imds');
    setA(host, ['169.254.169.254']);
    assert.equal(await failure(`https://${host}/latest/meta-data/`, policy), 'forbidden_address');
  });

  it('a name that does not resolve is a network error', async () => {
    assert.equal(await failure(`https://${name('nowhere')}/doc`, policy), 'network');
  });
});

describe('outbound fetch: the connection goes to the checked address', () => {
  it('resolves once and connects to that address, keeping the name for TLS (no rebinding gap)', async () => {
    // A bare TCP listener stands where the checked address points: it records the TLS ClientHello.
    const hello: Buffer[] = [];
    const tcp = createTcpServer((sock) => {
      sock.once('data', (d) => {
        hello.push(d);
        sock.destroy();
      });
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const port = (tcp.address() as AddressInfo).port;
    let lookups = 0;
    try {
      const code = await failure(`https://rebind.outbound.test:${port}/doc`, {
        allowLoopback: true,
        // The first answer is checked; a second lookup would get an address nothing listens on.
        resolve: async () =>
          ++lookups === 1 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '127.0.0.2', family: 4 }],
      });
      assert.equal(code, 'network'); // the listener is no TLS server
      assert.equal(lookups, 1);
      assert.equal(hello.length, 1, 'the checked address got the connection');
      assert.ok(hello[0]!.includes(Buffer.from('rebind.outbound.test')), 'SNI names the host');
    } finally {
      await new Promise<void>((r) => tcp.close(() => r()));
    }
  });
});

describe('outbound fetch: redirects, time and size', () => {
  let s: Awaited<ReturnType<typeof loopbackServer>>;
  let other: Awaited<ReturnType<typeof loopbackServer>>;
  before(async () => {
    other = await loopbackServer({ '/doc': (_q, r) => r.writeHead(200).end('other') });
    s = await loopbackServer({
      '/doc': (_q, r) => r.writeHead(200, { 'content-type': 'text/plain' }).end('hello'),
      '/hop': (_q, r) => r.writeHead(302, { location: '/doc' }).end(),
      '/c1': (_q, r) => r.writeHead(302, { location: '/doc' }).end(),
      '/c2': (_q, r) => r.writeHead(307, { location: '/c1' }).end(),
      '/c3': (_q, r) => r.writeHead(308, { location: '/c2' }).end(),
      '/c4': (_q, r) => r.writeHead(301, { location: '/c3' }).end(),
      '/to-localhost': (_q, r) => r.writeHead(302, { location: `http://localhost:${s.port}/doc` }).end(),
      '/to-v6-loopback': (_q, r) => r.writeHead(302, { location: `http://[::1]:${s.port}/doc` }).end(),
      '/to-imds': (_q, r) => r.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end(),
      '/to-other-origin': (_q, r) => r.writeHead(302, { location: other.url('/doc') }).end(),
      '/slow': () => {}, // never answers
      '/slow-body': (_q, r) => {
        r.writeHead(200, { 'content-length': '100' });
        r.write('{"a":');
      },
      '/big': (_q, r) => r.writeHead(200).end('a'.repeat(70_000)),
      '/declared-big': (_q, r) => {
        r.writeHead(200, { 'content-length': String(50_000_000) });
        r.write('a');
      },
      '/stream': (_q, r) => {
        r.writeHead(200);
        const timer = setInterval(() => r.write('a'.repeat(8192)), 1);
        r.on('close', () => clearInterval(timer));
      },
      '/echo': (q, r) => {
        let body = '';
        q.on('data', (c: Buffer) => (body += c.toString()));
        q.on('end', () =>
          r
            .writeHead(200, { 'content-type': 'application/json', 'x-seen-host': String(q.headers.host) })
            .end(JSON.stringify({ method: q.method, body, type: q.headers['content-type'] ?? null })),
        );
      },
    });
  });
  after(async () => {
    await s.close();
    await other.close();
  });

  it('follows a same-origin redirect', async () => {
    const res = await outboundFetch(s.url('/hop'), {}, LOOP);
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello');
    assert.equal(res.url, s.url('/doc'));
  });

  it('refuses a redirect to loopback under another name, or to the metadata service', async () => {
    const before = s.seen.length;
    assert.equal(await failure(s.url('/to-localhost'), LOOP), 'redirect_refused');
    assert.equal(await failure(s.url('/to-v6-loopback'), LOOP), 'redirect_refused');
    assert.equal(await failure(s.url('/to-imds'), LOOP), 'redirect_refused');
    assert.deepEqual(s.seen.slice(before), ['/to-localhost', '/to-v6-loopback', '/to-imds']);
  });

  it('refuses a cross-origin redirect without following it', async () => {
    assert.equal(await failure(s.url('/to-other-origin'), LOOP), 'redirect_refused');
    assert.deepEqual(other.seen, []);
  });

  it('follows three redirects and refuses a fourth (too many redirects)', async () => {
    assert.equal(await failure(s.url('/c3'), LOOP), 'ok');
    assert.equal(await failure(s.url('/c4'), LOOP), 'redirect_refused');
    assert.equal(await failure(s.url('/c1'), { ...LOOP, maxRedirects: 0 }), 'redirect_refused');
  });

  it('returns a 3xx as is with redirect: manual, and refuses it with redirect: error', async () => {
    const res = await outboundFetch(s.url('/hop'), {}, { ...LOOP, redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(await failure(s.url('/hop'), { ...LOOP, redirect: 'error' }), 'redirect_refused');
  });

  it('times out on a slow answer and on a body that never ends', async () => {
    const started = Date.now();
    assert.equal(await failure(s.url('/slow'), { ...LOOP, timeoutMs: 300 }), 'timeout');
    assert.ok(Date.now() - started < 3000);
    assert.equal(await failure(s.url('/slow-body'), { ...LOOP, timeoutMs: 300 }), 'timeout');
  });

  it('refuses an oversized answer: by its declared length, by its body, and while it streams', async () => {
    assert.equal(await failure(s.url('/big'), { ...LOOP, maxBytes: 64 * 1024 }), 'too_large');
    assert.equal(await failure(s.url('/declared-big'), { ...LOOP, timeoutMs: 5000 }), 'too_large');
    assert.equal(await failure(s.url('/stream'), { ...LOOP, timeoutMs: 5000 }), 'too_large');
    assert.equal(await failure(s.url('/doc'), { ...LOOP, maxBytes: 5 }), 'ok');
    assert.equal(await failure(s.url('/doc'), { ...LOOP, maxBytes: 4 }), 'too_large');
  });

  it('a connection refused is a network error', async () => {
    const closed = await new Promise<number>((r) => {
      const t = createTcpServer();
      t.listen(0, '127.0.0.1', () => {
        const p = (t.address() as AddressInfo).port;
        t.close(() => r(p));
      });
    });
    assert.equal(await failure(`http://127.0.0.1:${closed}/doc`, LOOP), 'network');
  });

  describe('as a fetch for oauth4webapi', () => {
    it('posts a form body, keeps the Host, and answers a Response', async () => {
      const fetcher = outboundFetcher(LOOP);
      const res = await fetcher(s.url('/echo'), {
        method: 'POST',
        headers: { accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'authorization_code' }),
        redirect: 'manual',
      });
      assert.ok(res instanceof Response);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-seen-host'), `127.0.0.1:${s.port}`);
      assert.deepEqual(await res.json(), {
        method: 'POST',
        body: 'grant_type=authorization_code',
        type: 'application/x-www-form-urlencoded;charset=UTF-8',
      });
    });

    it('returns a redirect as is when asked for manual redirects, and throws typed errors', async () => {
      const fetcher = outboundFetcher(LOOP);
      assert.equal((await fetcher(s.url('/hop'), { redirect: 'manual' })).status, 302);
      await assert.rejects(fetcher('https://10.0.0.1/token', { method: 'POST' }), (err: unknown) => {
        assert.ok(err instanceof OutboundFetchError);
        assert.equal(err.code, 'forbidden_address');
        return true;
      });
    });
  });
});
