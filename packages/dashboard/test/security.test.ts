// test-backend: embedded — the subject is the dashboard in a browser, not storage
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type TestServer, testServer, totpCode } from '@latchkey/server/testing';
import {
  buildDashboard,
  newContext,
  screenshot,
  screenshotOnFailure,
  uniqueEmail,
  type Watched,
} from './helpers.js';

// Account → Security (authenticator app with its QR code, recovery codes, passkeys through
// Chromium's virtual authenticator) and Organisation settings → "Require two-factor sign-in".
// Passkeys need a domain for their relying party: the server's public URL is http://localhost.

let built: Awaited<ReturnType<typeof buildDashboard>>;
let t: TestServer;
let base: string;
let browser: Browser;
let person: Watched;
const email = uniqueEmail('security');
const password = 'a sturdy passphrase 42';
let secret = '';

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
  built = await buildDashboard();
  const port = await freePort();
  base = `http://localhost:${port}`;
  t = await testServer({ env: { PUBLIC_URL: base, DASHBOARD_DIR: built.dir } });
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
  person = await newContext(browser, base);
  const res = await person.context.request.post('/api/auth/signup', {
    data: { email, password, name: 'Sam Secure' },
    headers: { origin: base },
  });
  assert.equal(res.status(), 201, await res.text());
});

after(async () => {
  await browser?.close();
  await t?.close();
  built?.remove();
});

async function withAuthenticator(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
}

describe('Account → Security', () => {
  it('turns on an authenticator app from its QR code, shows recovery codes, adds and removes a passkey', () =>
    screenshotOnFailure(
      [person],
      async () => {
        const page = await person.context.newPage();
        await withAuthenticator(page);
        await page.goto('/app/account');
        await page.getByRole('link', { name: 'Security' }).click();
        await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
        assert.equal(new URL(page.url()).pathname, '/app/account/security');
        await screenshot(page, 'account-security-empty');

        await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
        const qr = page.getByRole('img', { name: 'QR code for your authenticator app' });
        await qr.waitFor();
        assert.match((await qr.getAttribute('src'))!, /^data:image\/svg\+xml;base64,/);
        const key = (await page.locator('.totp-setup code').innerText()).replace(/\s/g, '');
        await screenshot(page, 'account-security-totp-setup');
        secret = key;
        await page.getByLabel('Code from the app').fill(totpCode(key, new Date()));
        await page.getByRole('button', { name: 'Turn on' }).click();
        const codes = page.locator('pre.recovery-codes');
        await codes.waitFor();
        assert.equal((await codes.innerText()).trim().split('\n').length, 10);
        await page.getByText('On', { exact: true }).waitFor();
        await screenshot(page, 'account-security-recovery-codes');
        await page.getByRole('button', { name: 'I saved them' }).click();

        await page.getByLabel('Name for a new passkey').fill('Work laptop');
        await page.getByRole('button', { name: 'Add a passkey' }).click();
        const row = page.getByRole('row').filter({ hasText: 'Work laptop' });
        await row.waitFor();
        assert.match(await row.innerText(), /never/);
        await screenshot(page, 'account-security');
        await page.setViewportSize({ width: 390, height: 844 });
        await screenshot(page, 'account-security-phone');
        await page.setViewportSize({ width: 1280, height: 800 });

        await page.getByRole('button', { name: 'Remove Work laptop' }).click();
        await page.getByRole('dialog').getByRole('button', { name: 'Remove passkey' }).click();
        await page.getByText('No passkeys yet').waitFor();
        const state = await (await person.context.request.get('/api/v1/me/mfa')).json();
        assert.equal(state.totp.enabled, true);
        assert.deepEqual(state.passkeys, []);
        person.assertClean();
      },
      'security',
    ));

  it('Organisation settings: an owner requires two-factor sign-in with a grace period', () =>
    screenshotOnFailure(
      [person],
      async () => {
        const page = await person.context.newPage();
        await page.goto('/app/settings');
        await page.getByRole('heading', { name: 'Require two-factor sign-in' }).waitFor();
        await page.getByLabel('Require two-factor sign-in for every member').check();
        await page.getByLabel('Grace period (days)').fill('14');
        await page.getByRole('button', { name: 'Save', exact: true }).click();
        await page.getByText('Two-factor sign-in is now required.').waitFor();
        await page.getByText(/members without a factor are refused from/).waitFor();
        await screenshot(page, 'org-settings-require-2fa');
        await page.setViewportSize({ width: 390, height: 844 });
        await screenshot(page, 'org-settings-require-2fa-phone');
        const me = await (await person.context.request.get('/api/v1/me')).json();
        const policy = await (
          await person.context.request.get('/api/v1/org/mfa', { headers: { 'x-org-id': me.orgs[0].id } })
        ).json();
        assert.equal(policy.mfa_required, true);
        assert.equal(policy.grace_days, 14);
        person.assertClean();
      },
      'org-mfa',
    ));

  it('signing in again asks for the authenticator code on the second-factor page', async () => {
    const again = await newContext(browser, base);
    await screenshotOnFailure(
      [again],
      async () => {
        const page = await again.context.newPage();
        await page.goto('/login?return_to=%2Fapp%2Faccount%2Fsecurity');
        await page.getByLabel('Email', { exact: true }).first().fill(email);
        await page.getByLabel('Password', { exact: true }).fill(password);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.waitForURL(/\/login\/second-factor\?return_to=%2Fapp%2Faccount%2Fsecurity$/);
        await page.getByRole('heading', { name: 'Two-factor sign-in' }).waitFor();
        await screenshot(page, 'second-factor-page');
        await page.setViewportSize({ width: 390, height: 844 });
        await screenshot(page, 'second-factor-page-phone');
        await page.setViewportSize({ width: 1280, height: 800 });
        // The next step's code: later than the one enrolment used, and within the ±1 step window.
        await page
          .getByLabel('Code from your authenticator app')
          .fill(totpCode(secret, new Date(Date.now() + 30_000)));
        await page.getByRole('button', { name: 'Verify' }).click();
        await page.waitForURL(/\/app\/account\/security$/);
        await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
        again.assertClean();
      },
      'second-factor-page',
    );
    await again.context.close();
  });
});
