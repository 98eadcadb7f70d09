import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, type CDPSession, chromium, type Page } from 'playwright-core';
import { type TestServer, testServer } from '../../helpers/harness.js';

/**
 * Passkeys through Chromium's virtual authenticator (DevTools WebAuthn domain): registration,
 * passwordless sign-in, second factor after a password, removal; and the refusals — an assertion
 * for another account's challenge, and one made on another origin.
 */

let t: TestServer;
let base: string;
let port: number;
let browser: Browser;
const PASSWORD = 'a sturdy passphrase 42';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

before(async () => {
  port = await freePort();
  // WebAuthn needs a domain as RP ID: localhost (a secure context over http).
  base = `http://localhost:${port}`;
  t = await testServer({ env: { PUBLIC_URL: base } });
  await t.app.listen({ port, host: '127.0.0.1' });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP localhost 127.0.0.1',
    ],
  });
});
after(async () => {
  await browser?.close();
  await t?.close();
});

interface Person {
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  authenticatorId: string;
  email: string;
}

/** A browser with a virtual platform authenticator (resident keys, user verification). */
async function person(tag: string): Promise<Person> {
  const context = await browser.newContext({ baseURL: base });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const email = `${tag}-${process.pid}-${Date.now().toString(36)}@example.com`;
  const res = await context.request.post('/api/auth/signup', {
    data: { email, password: PASSWORD, name: tag },
    headers: { origin: base },
  });
  assert.equal(res.status(), 201, await res.text());
  await page.goto('/login/passkey');
  return { context, page, cdp, authenticatorId, email };
}

/** Runs, in the page, the WebAuthn calls a client makes; the JSON encoding is the one servers expect. */
const CODEC = `
  const b64 = (s) => { s = s.replace(/-/g, '+').replace(/_/g, '/'); while (s.length % 4) s += '='; return Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer; };
  const enc = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
`;

/** Registers a passkey from the page (the signed-in session): options → create() → POST. */
async function registerPasskey(p: Person, name: string) {
  return p.page.evaluate(
    async ({ codec, name }) => {
      // eslint-disable-next-line no-new-func
      const { b64, enc } = new Function(`${codec}; return { b64, enc };`)();
      const o = await (await fetch('/api/v1/me/passkeys/options', { method: 'POST' })).json();
      const cred = (await navigator.credentials.create({
        publicKey: {
          ...o,
          challenge: b64(o.challenge),
          user: { ...o.user, id: b64(o.user.id) },
          excludeCredentials: (o.excludeCredentials || []).map((c: { id: string }) => ({
            ...c,
            id: b64(c.id),
          })),
        },
      })) as PublicKeyCredential;
      const r = cred.response as AuthenticatorAttestationResponse;
      const response = {
        id: cred.id,
        rawId: enc(cred.rawId),
        type: cred.type,
        clientExtensionResults: cred.getClientExtensionResults(),
        response: {
          clientDataJSON: enc(r.clientDataJSON),
          attestationObject: enc(r.attestationObject),
          transports: r.getTransports(),
        },
      };
      const res = await fetch('/api/v1/me/passkeys', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, response }),
      });
      return { status: res.status, body: await res.json(), credentialId: cred.id };
    },
    { codec: CODEC, name },
  );
}

/** An assertion from the page's authenticator for `options` (as the server sent them). */
async function assertion(page: Page, options: Record<string, unknown>) {
  return page.evaluate(
    async ({ codec, o }) => {
      const { b64, enc } = new Function(`${codec}; return { b64, enc };`)();
      const cred = (await navigator.credentials.get({
        publicKey: {
          ...(o as object),
          challenge: b64(o.challenge as string),
          allowCredentials: ((o.allowCredentials as { id: string }[]) || []).map((c) => ({
            ...c,
            id: b64(c.id),
          })),
        } as PublicKeyCredentialRequestOptions,
      })) as PublicKeyCredential;
      const r = cred.response as AuthenticatorAssertionResponse;
      return {
        id: cred.id,
        rawId: enc(cred.rawId),
        type: cred.type,
        clientExtensionResults: cred.getClientExtensionResults(),
        response: {
          clientDataJSON: enc(r.clientDataJSON),
          authenticatorData: enc(r.authenticatorData),
          signature: enc(r.signature),
          userHandle: r.userHandle ? enc(r.userHandle) : undefined,
        },
      };
    },
    { codec: CODEC, o: options },
  );
}

async function me(context: BrowserContext) {
  const res = await context.request.get('/api/v1/me');
  return res.status() === 200 ? ((await res.json()) as { user: { email: string } }) : null;
}

async function amrOf(email: string) {
  const row = await t.deps.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.amr'])
    .where('users.email', '=', email)
    .where('sessions.revoked_at', 'is', null)
    .where('sessions.pending', 'is', null)
    .orderBy('sessions.created_at', 'desc')
    .executeTakeFirstOrThrow();
  return row.amr.split(' ');
}

describe('passkeys in Chromium (virtual authenticator)', () => {
  let ada: Person;
  let credentialId: string;

  it('registers a passkey from a signed-in session; it is listed with its name', async () => {
    ada = await person('ada');
    const r = await registerPasskey(ada, 'Laptop');
    assert.equal(r.status, 201, JSON.stringify(r.body));
    credentialId = r.credentialId;
    assert.equal(r.body.passkey.name, 'Laptop');
    assert.equal(r.body.recovery_codes.length, 10);
    const list = await (await ada.context.request.get('/api/v1/me/mfa')).json();
    assert.deepEqual(
      list.passkeys.map((p: { name: string }) => p.name),
      ['Laptop'],
    );
    assert.equal(list.passkeys[0].last_used_at, null);
    const creds = await ada.cdp.send('WebAuthn.getCredentials', { authenticatorId: ada.authenticatorId });
    assert.equal(creds.credentials.length, 1);
    assert.equal(creds.credentials[0]!.isResidentCredential, true);
  });

  it('signs in without a password: the sign-in page’s passkey button', async () => {
    await ada.context.clearCookies();
    assert.equal(await me(ada.context), null);
    await ada.page.goto('/login?return_to=%2Fapi%2Fv1%2Fme');
    await ada.page.getByRole('link', { name: 'Sign in with a passkey' }).click();
    await ada.page.waitForURL(/\/login\/passkey\?return_to=%2Fapi%2Fv1%2Fme$/);
    await ada.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await ada.page.waitForURL(/\/api\/v1\/me$/);
    assert.equal((await me(ada.context))?.user.email, ada.email);
    assert.deepEqual(await amrOf(ada.email), ['hwk', 'mfa']);
    const list = await (await ada.context.request.get('/api/v1/me/mfa')).json();
    assert.ok(list.passkeys[0].last_used_at);
  });

  it('is asked for after a password, and the second-factor page accepts it', async () => {
    await ada.context.clearCookies();
    const res = await ada.context.request.post('/api/auth/signin', {
      data: { email: ada.email, password: PASSWORD },
      headers: { origin: base },
    });
    assert.equal(res.status(), 200);
    assert.equal(await me(ada.context), null, 'the password alone is no session');
    await ada.page.goto('/app/anything');
    await ada.page.waitForURL(/\/login\/second-factor\?return_to=%2Fapp%2Fanything$/);
    await ada.page.goto('/login/second-factor?return_to=%2Fapi%2Fv1%2Fme');
    await ada.page.getByRole('button', { name: 'Use a passkey' }).click();
    await ada.page.waitForURL(/\/api\/v1\/me$/);
    assert.equal((await me(ada.context))?.user.email, ada.email);
    assert.deepEqual(await amrOf(ada.email), ['pwd', 'hwk', 'mfa']);
  });

  it('refuses an assertion for another account’s challenge, and one made on another origin', async () => {
    const bob = await person('bob');
    assert.equal((await registerPasskey(bob, 'Phone')).status, 201);
    // Bob signs in with his password: a pending sign-in whose passkey challenge is bound to him.
    await bob.context.clearCookies();
    await bob.context.request.post('/api/auth/signin', {
      data: { email: bob.email, password: PASSWORD },
      headers: { origin: base },
    });
    const opts = await (
      await bob.context.request.post('/api/auth/second-factor/passkey-options', { headers: { origin: base } })
    ).json();
    // Ada's authenticator answers Bob's challenge with Ada's passkey.
    const forged = await assertion(ada.page, {
      ...opts,
      allowCredentials: [{ id: credentialId, type: 'public-key' }],
    });
    const res = await bob.context.request.post('/api/auth/second-factor/passkey', {
      data: { response: forged },
      headers: { origin: base },
    });
    assert.equal(res.status(), 401);
    assert.equal((await res.json()).code, 'invalid_credentials');
    assert.equal(await me(bob.context), null);

    // A page on another origin (same host, another port: the browser lets it use the RP ID) gets a
    // real assertion for a real challenge: refused.
    const otherPort = await freePort();
    const other = createHttpServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<p>elsewhere</p>'),
    );
    await new Promise<void>((r) => other.listen(otherPort, '127.0.0.1', r));
    const evil = await browser.newContext();
    const evilPage = await evil.newPage();
    const cdp = await evil.newCDPSession(evilPage);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    const exported = await ada.cdp.send('WebAuthn.getCredentials', { authenticatorId: ada.authenticatorId });
    await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: exported.credentials[0]! });
    await evilPage.goto(`http://localhost:${otherPort}/`);
    const signinOpts = await (
      await t.client().req({ method: 'POST', url: '/api/auth/passkey/options', headers: { origin: base } })
    ).json();
    const offOrigin = await assertion(evilPage, signinOpts);
    const refused = await fetch(`${base}/api/auth/passkey`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base },
      body: JSON.stringify({ response: offOrigin }),
    });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('set-cookie'), null);
    // The same challenge is spent: the genuine origin cannot replay it either.
    const replay = await assertion(ada.page, signinOpts).catch(() => null);
    if (replay) {
      const again = await ada.context.request.post('/api/auth/passkey', {
        data: { response: replay },
        headers: { origin: base },
      });
      assert.equal(again.status(), 401);
    }
    await evil.close();
    other.close();
    await bob.context.close();
  });

  it('removes a passkey (after step-up); it no longer signs in', async () => {
    // Ada's session proved a passkey minutes ago: removal is allowed.
    const list = await (await ada.context.request.get('/api/v1/me/mfa')).json();
    const id = list.passkeys[0].id as string;
    const del = await ada.context.request.delete(`/api/v1/me/passkeys/${id}`, { headers: { origin: base } });
    assert.equal(del.status(), 204, await del.text());
    assert.deepEqual((await (await ada.context.request.get('/api/v1/me/mfa')).json()).passkeys, []);
    await ada.context.clearCookies();
    const opts = await (
      await t.client().req({ method: 'POST', url: '/api/auth/passkey/options', headers: { origin: base } })
    ).json();
    const a = await assertion(ada.page, opts);
    const res = await ada.context.request.post('/api/auth/passkey', {
      data: { response: a },
      headers: { origin: base },
    });
    assert.equal(res.status(), 401);
    // Without a factor, the password is enough again.
    const pw = await ada.context.request.post('/api/auth/signin', {
      data: { email: ada.email, password: PASSWORD },
      headers: { origin: base },
    });
    assert.equal(pw.status(), 200);
    assert.equal((await me(ada.context))?.user.email, ada.email);
    await ada.context.close();
  });
});
