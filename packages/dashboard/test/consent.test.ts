// test-backend: embedded — the subject is the dashboard in a browser, not storage
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { authorizeUrl, MCP_URL, OAUTH_TOML, pkce } from '@latchkey/server/testing';
import {
  buildDashboard,
  type Latchkey,
  launchBrowser,
  newContext,
  screenshot,
  screenshotOnFailure,
  startLatchkey,
  uniqueEmail,
  type Watched,
} from './helpers.js';

let built: Awaited<ReturnType<typeof buildDashboard>>;
let lk: Latchkey;
let browser: Browser;
let person: Watched;
let page: Page;
/** The OAuth client's redirect target: a loopback page that only says it was reached. */
let callback: Server;
let redirectUri = '';

before(async () => {
  built = await buildDashboard();
  callback = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Client</title><p>Back at the client.</p>');
  });
  await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
  redirectUri = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/callback`;
  [lk, browser] = await Promise.all([startLatchkey(built.dir, { toml: OAUTH_TOML }), launchBrowser()]);
  // The client's loopback callback is the one other origin this browser may reach.
  person = await newContext(browser, lk.base, {}, [new URL(redirectUri).origin]);
  const res = await person.context.request.post('/api/auth/signup', {
    data: { email: uniqueEmail('consent'), password: 'a sturdy passphrase 42', name: 'Cora Consent' },
    headers: { origin: lk.base },
  });
  assert.equal(res.status(), 201, await res.text());
  page = await person.context.newPage();
});

after(async () => {
  await browser?.close();
  await lk?.close();
  await new Promise((resolve) => callback?.close(resolve));
  built?.remove();
});

/** Dynamic client registration over HTTP, as an MCP client does it. */
async function register(name: string): Promise<string> {
  const res = await fetch(`${lk.base}/api/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'none',
      client_name: name,
    }),
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return (JSON.parse(text) as { client_id: string }).client_id;
}

describe('the consent page in a browser', () => {
  it('approve: the client gets a code (with state and iss) that it exchanges for tokens', () =>
    screenshotOnFailure(
      [person],
      async () => {
        const clientId = await register('Notes Assistant');
        const p = pkce();
        await page.goto(
          `${lk.base}${authorizeUrl({ clientId, redirectUri, challenge: p.challenge, state: 'st-approve', scope: 'mcp:read mcp:act' })}`,
        );
        await page.getByRole('heading', { name: 'Authorise access' }).waitFor();
        await page.getByText('Notes Assistant').first().waitFor();
        // High-risk scopes are never pre-ticked.
        assert.equal(await page.getByRole('checkbox', { name: /mcp:read/ }).isChecked(), true);
        assert.equal(await page.getByRole('checkbox', { name: /mcp:act/ }).isChecked(), false);
        await screenshot(page, 'consent');
        await page.getByRole('button', { name: 'Allow' }).click();
        await page.waitForURL((u) => u.href.startsWith(redirectUri));
        const back = new URL(page.url());
        assert.equal(back.searchParams.get('state'), 'st-approve');
        assert.equal(back.searchParams.get('iss'), lk.base);
        const code = back.searchParams.get('code');
        assert.ok(code, back.href);
        const token = await fetch(`${lk.base}/api/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code,
            redirect_uri: redirectUri,
            code_verifier: p.verifier,
            client_id: clientId,
            resource: MCP_URL,
          }),
        });
        const body = await token.text();
        assert.equal(token.status, 200, body);
        assert.equal((JSON.parse(body) as { scope: string }).scope, 'mcp:read');
        await screenshot(page, 'consent-approved-callback');
        person.assertClean();
      },
      'consent',
    ));

  it('deny: the client gets error=access_denied and no code', () =>
    screenshotOnFailure(
      [person],
      async () => {
        const clientId = await register('Nosy Bot');
        await page.goto(`${lk.base}${authorizeUrl({ clientId, redirectUri, state: 'st-deny' })}`);
        await page.getByText('Nosy Bot').first().waitFor();
        await page.getByRole('button', { name: 'Deny' }).click();
        await page.waitForURL((u) => u.href.startsWith(redirectUri));
        const back = new URL(page.url());
        assert.equal(back.searchParams.get('error'), 'access_denied');
        assert.equal(back.searchParams.get('state'), 'st-deny');
        assert.equal(back.searchParams.get('code'), null);
        await screenshot(page, 'consent-denied-callback');
        person.assertClean();
      },
      'consent',
    ));

  it('the approved app is listed under Connected apps and can be revoked there', () =>
    screenshotOnFailure(
      [person],
      async () => {
        await page.goto('/app/connected-apps');
        const row = page.getByRole('row').filter({ hasText: 'Notes Assistant' });
        await row.getByText('mcp:read').waitFor();
        assert.equal(await page.getByText('Nosy Bot').count(), 0, 'a denied app has no grant');
        await screenshot(page, 'connected-apps');
        await row.getByRole('button', { name: /^Revoke Notes Assistant/ }).click();
        await page
          .getByRole('dialog', { name: 'Revoke Notes Assistant?' })
          .getByRole('button', { name: 'Revoke access' })
          .click();
        await page.getByText('No connected apps').waitFor();
        const grants = (await (await page.request.get('/api/v1/me/grants')).json()) as { data: unknown[] };
        assert.equal(grants.data.length, 0);
        await screenshot(page, 'connected-apps-revoked');
        person.assertClean();
      },
      'consent',
    ));
});
