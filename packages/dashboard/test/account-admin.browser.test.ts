// test-backend: embedded — the subject is the dashboard in a browser, not storage
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { lastMailTo, linkIn } from '@latchkey/server/testing';
import {
  buildDashboard,
  type Latchkey,
  launchBrowser,
  newContext,
  SIGNED_OUT_PROBE,
  screenshot,
  screenshotOnFailure,
  startLatchkey,
  uniqueEmail,
  verifyEmailInPage,
  type Watched,
} from './helpers.js';

const PASSWORD = 'a sturdy passphrase 42';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

let built: Awaited<ReturnType<typeof buildDashboard>>;
let lk: Latchkey;
let browser: Browser;

before(async () => {
  built = await buildDashboard();
  [lk, browser] = await Promise.all([startLatchkey(built.dir), launchBrowser()]);
});

after(async () => {
  await browser?.close();
  await lk?.close();
  built?.remove();
});

/** Signs a new person up through the API in `w`'s browser and proves their address in `page`. */
async function signedUp(w: Watched, page: Page, name: string) {
  const email = uniqueEmail(name.toLowerCase().split(' ')[0]!);
  const res = await w.context.request.post('/api/auth/signup', {
    data: { email, password: PASSWORD, name },
    headers: { origin: lk.base },
  });
  assert.equal(res.status(), 201, await res.text());
  await verifyEmailInPage(page, lk, email);
  return email;
}

async function both(page: Page, name: string) {
  await page.setViewportSize(DESKTOP);
  await screenshot(page, `${name}-desktop`);
  await page.setViewportSize(PHONE);
  await screenshot(page, `${name}-phone`);
  await page.setViewportSize(DESKTOP);
}

describe('sign-in page and password reset in Chromium', () => {
  it('asks for a reset link from /login, sets a new password through the mailed form, signs in with it', async () => {
    const w = await newContext(browser, lk.base);
    // The refused password answers 400 (the page says why), which the browser logs.
    w.allow.push(SIGNED_OUT_PROBE, /status of 400 .*\/reset-password/);
    await screenshotOnFailure(
      [w],
      async () => {
        const setup = await w.context.newPage();
        const email = await signedUp(w, setup, 'Rita Reset');
        // The signed-up tab goes before the cookies do: left open, its dashboard would refetch
        // without a session and log 401s.
        await setup.close();
        await w.context.clearCookies();

        const page = await w.context.newPage();
        await page.goto('/login');
        await page.getByRole('button', { name: 'Email me a sign-in link' }).waitFor();
        await both(page, 'login');
        await page.getByRole('link', { name: 'Forgot password?' }).click();
        await page.getByLabel('Email').fill(email);
        await page.getByRole('button', { name: 'Email me a reset link' }).click();
        await page.getByText('If an account uses this address').waitFor();

        const link = linkIn((await lastMailTo(lk.t.outboxDir, email)).text, `${lk.base}/reset-password`);
        await page.goto(link);
        await page.getByLabel(/New password/).fill('1234567890');
        await page.getByLabel('Repeat it').fill('1234567890');
        await page.getByRole('button', { name: 'Set the new password' }).click();
        await page.getByText('breached passwords').waitFor();
        await both(page, 'reset-password-refused');
        await page.getByLabel(/New password/).fill('a brand new passphrase 11');
        await page.getByLabel('Repeat it').fill('a brand new passphrase 11');
        await page.getByRole('button', { name: 'Set the new password' }).click();
        await page.getByRole('heading', { name: 'Password changed' }).waitFor();

        await page.getByRole('link', { name: 'Sign in' }).click();
        await page.locator('#email').fill(email);
        await page.locator('#password').fill('a brand new passphrase 11');
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.waitForURL(/\/app\//);
        w.assertClean();
      },
      'reset',
    );
  });
});

describe('dashboard: Account → Profile and Admin → Users', () => {
  it('changes the email, downloads the export, and deletes the account', async () => {
    const w = await newContext(browser, lk.base, { acceptDownloads: true });
    await screenshotOnFailure(
      [w],
      async () => {
        const page = await w.context.newPage();
        const email = await signedUp(w, page, 'Pat Profile');
        await page.getByRole('link', { name: 'Account', exact: true }).click();
        await page.getByRole('heading', { name: 'Email address' }).waitFor();
        const next = uniqueEmail('moved');
        await page.getByLabel('New email address').fill(next);
        await page.getByRole('button', { name: 'Send the confirmation link' }).click();
        await page.getByText('A link is on its way to').waitFor();
        await both(page, 'account-profile');

        const download = page.waitForEvent('download');
        await page.getByRole('button', { name: 'Download my data' }).click();
        const file = await (await download).path();
        const data = JSON.parse(readFileSync(file, 'utf8'));
        assert.equal(data.profile.email, email);

        const link = linkIn((await lastMailTo(lk.t.outboxDir, next)).text, `${lk.base}/confirm-email`);
        await page.goto(link);
        await page.getByRole('button', { name: 'Use this address' }).click();
        await page.getByText(`Your account now uses ${next}.`).waitFor();
        await page.goto('/app/account');
        await page.getByText(`Your account uses ${next}`).waitFor();

        await page.getByRole('button', { name: 'Delete account…' }).click();
        await page.getByLabel(/Type .* to confirm/).fill(next);
        await both(page, 'account-delete-dialog');
        await page.getByRole('button', { name: 'Delete my account' }).click();
        await page.waitForURL(/\/login/);
        const me = await w.context.request.get('/api/v1/me');
        assert.equal(me.status(), 401);
        w.assertClean();
      },
      'profile',
    );
  });

  it('an instance admin finds a person, opens them, and disables and re-enables the account', async () => {
    const op = await newContext(browser, lk.base);
    const person = await newContext(browser, lk.base);
    await screenshotOnFailure(
      [op, person],
      async () => {
        const pp = await person.context.newPage();
        const email = await signedUp(person, pp, 'Dora Disabled');
        const page = await op.context.newPage();
        const opEmail = await signedUp(op, page, 'Opal Operator');
        await lk.t.deps.db
          .updateTable('users')
          .set({ instance_admin: true })
          .where('email', '=', opEmail)
          .execute();
        await page.goto('/app/');
        await page.getByRole('link', { name: 'Users' }).click();
        await page.getByLabel('Search by email or name').fill('Dora');
        await page.getByRole('button', { name: 'Search' }).click();
        const row = page.getByRole('row').filter({ hasText: email });
        await row.waitFor();
        await both(page, 'admin-users');
        await row.getByRole('button', { name: `Open ${email}` }).click();
        await page.getByRole('heading', { name: 'Organisations' }).waitFor();
        await both(page, 'admin-user-drawer');
        await page.getByRole('button', { name: 'Disable', exact: true }).click();
        await page.getByText('every sign-in and token of this account is refused').waitFor();
        assert.equal((await person.context.request.get('/api/v1/me')).status(), 401);
        await page.getByRole('button', { name: 'Enable', exact: true }).click();
        await page.getByRole('button', { name: 'Disable', exact: true }).waitFor();
        op.assertClean();
      },
      'admin-users',
    );
  });
});
