import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { checkReturnTo, safeReturnTo } from '../../src/http/request.js';
import { DEFAULT_PASSWORD, PUBLIC_URL, type TestServer, testServer } from '../helpers/harness.js';

/** Open redirects after sign-in (issue 15 row 7): spellings that normalise to another origin. */
const ATTACKS = [
  '/.//evil.example/x',
  '/x/..//evil.example/x',
  '/%2e//evil.example/x',
  '/%2E%2E//evil.example/x',
  '/./\\/evil.example/x',
  '//evil.example/x',
  '/\\evil.example/x',
  '\\/evil.example/x',
  '/\t/evil.example/x',
  '/\n/evil.example/x',
  ' //evil.example/x',
  '/%2f/evil.example/x',
  '/%5c/evil.example/x',
  'https://evil.example/x',
  'http://localhost:8484@evil.example/x',
  'javascript:alert(1)',
  '///evil.example/x',
  '/x/../..//evil.example/x',
];

/** Pieces an attacker combines: slashes, dots, encodings, backslashes, controls, hosts. */
const piece = fc.constantFrom(
  '/',
  '//',
  '\\',
  '.',
  '..',
  '%2e',
  '%2E',
  '%2f',
  '%5c',
  '%00',
  '\t',
  '\n',
  ' ',
  '?',
  '#',
  '@',
  ':',
  'evil.example',
  'x',
  'http:',
  'localhost:8484',
  '\u3002',
  '\uff0f',
);
const crafted = fc.array(piece, { maxLength: 12 }).map((p) => p.join(''));

describe('safeReturnTo', () => {
  it('every output is a path on PUBLIC_URL’s origin, never `//…` or `/\\…`', () => {
    fc.assert(
      fc.property(fc.oneof(crafted, fc.string(), fc.webPath(), fc.webUrl()), (raw) => {
        const out = safeReturnTo(raw, PUBLIC_URL);
        assert.equal(new URL(out, PUBLIC_URL).origin, PUBLIC_URL, `${JSON.stringify(raw)} → ${out}`);
        assert.ok(out.startsWith('/'), out);
        assert.ok(!out.startsWith('//') && !out.startsWith('/\\'), out);
        // What the browser follows resolves to itself: no second normalisation can move it.
        const again = new URL(out, PUBLIC_URL);
        assert.equal(again.pathname + again.search + again.hash, out);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses each literal attack (→ `/`)', () => {
    for (const raw of ATTACKS) {
      assert.equal(checkReturnTo(raw, PUBLIC_URL), null, JSON.stringify(raw));
      assert.equal(safeReturnTo(raw, PUBLIC_URL), '/', JSON.stringify(raw));
    }
  });

  it('keeps ordinary paths as they are, query and fragment included', () => {
    for (const ok of [
      '/',
      '/app/settings?tab=tokens',
      '/api/oauth/authorize?client_id=c&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&scope=mcp%3Aread',
      '/consent#top',
    ]) {
      assert.equal(safeReturnTo(ok, PUBLIC_URL), ok);
    }
    assert.equal(safeReturnTo(undefined, PUBLIC_URL), '/');
    assert.equal(safeReturnTo('/a'.repeat(3000), PUBLIC_URL), '/', 'too long');
  });
});

describe('GET and POST /login never redirect off-site (issue 15 row 7)', () => {
  let t: TestServer;
  let email: string;
  before(async () => {
    t = await testServer();
    email = (await t.client().signup()).user.email;
  });
  after(() => t.close());

  it('a signed-in browser sent to /login?return_to=<attack> lands on /', async () => {
    const c = t.client();
    assert.equal((await c.post('/api/auth/signin', { email, password: DEFAULT_PASSWORD })).statusCode, 200);
    // The exact request from the report: %2F.%2F%2Fevil.example%2Fx answered `Location: //evil.example/x`.
    const reported = await c.get('/login?return_to=%2F.%2F%2Fevil.example%2Fx');
    assert.equal(reported.statusCode, 303);
    assert.equal(reported.headers.location, '/');
    for (const raw of ATTACKS) {
      const res = await c.get(`/login?return_to=${encodeURIComponent(raw)}`);
      assert.equal(res.statusCode, 303, raw);
      assert.equal(res.headers.location, '/', JSON.stringify(raw));
    }
    const fine = await c.get(`/login?return_to=${encodeURIComponent('/app/settings?tab=tokens')}`);
    assert.equal(fine.headers.location, '/app/settings?tab=tokens');
  });

  it('the sign-in page does not carry an attack into its form', async () => {
    for (const raw of ATTACKS) {
      const res = await t.client().get(`/login?return_to=${encodeURIComponent(raw)}`);
      assert.equal(res.statusCode, 200);
      assert.ok(!res.body.includes('name="return_to"'), JSON.stringify(raw));
    }
  });

  it('POST /login with return_to=<attack> signs in and lands on /', async () => {
    for (const raw of [ATTACKS[0]!, ATTACKS[1]!, ATTACKS[2]!, ATTACKS[4]!]) {
      const res = await t.client().req({
        method: 'POST',
        url: '/login',
        body: new URLSearchParams({ email, password: DEFAULT_PASSWORD, return_to: raw }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(res.statusCode, 303, res.body);
      assert.equal(res.headers.location, '/', JSON.stringify(raw));
    }
  });
});
