// test-backend: embedded — the subject is the dashboard in a browser, not storage
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  buildDashboard,
  type Latchkey,
  launchBrowser,
  newContext,
  screenshot,
  screenshotOnFailure,
  startLatchkey,
  uniqueEmail,
  verifyEmailInPage,
  type Watched,
} from './helpers.js';

const PASSWORD = 'a sturdy passphrase 42';
const NEW_PASSWORD = 'another sturdy passphrase 43';

let built: Awaited<ReturnType<typeof buildDashboard>>;
let lk: Latchkey;
let browser: Browser;
let owner: Watched;
let page: Page;
const email = uniqueEmail('owner');

before(async () => {
  built = await buildDashboard();
  [lk, browser] = await Promise.all([startLatchkey(built.dir), launchBrowser()]);
  owner = await newContext(browser, lk.base);
  const res = await owner.context.request.post('/api/auth/signup', {
    data: { email, password: PASSWORD, name: 'Olive Owner' },
    headers: { origin: lk.base },
  });
  assert.equal(res.status(), 201, await res.text());
  page = await owner.context.newPage();
  // The owner proves their address (tokens, OAuth apps and SSO need it), as a person would.
  await verifyEmailInPage(page, lk, email);
});

after(async () => {
  await browser?.close();
  await lk?.close();
  built?.remove();
});

const run = (name: string, fn: () => Promise<void>) =>
  it(name, () => screenshotOnFailure([owner], fn, 'pages'));

describe('org settings, account, OAuth apps, tokens', () => {
  run('renames the org; a taken slug is explained; deleting an org needs its slug typed', async () => {
    await page.goto('/app/settings');
    await page.getByLabel('Name', { exact: true }).fill('Globex');
    await page.getByLabel('Slug', { exact: true }).fill(`globex-${process.pid}`);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Organisation settings saved.').waitFor();
    const switcher = page.getByLabel('Organisation', { exact: true });
    assert.equal(await switcher.locator('option:checked').textContent(), 'Globex (owner)');

    owner.allow.push(/status of 409 .*\/api\/v1\/orgs/);
    await switcher.selectOption({ label: '＋ New organisation…' });
    const dialog = page.getByRole('dialog', { name: 'New organisation' });
    await dialog.getByLabel('Name').fill('Initech');
    await dialog.getByLabel('Slug (optional)').fill(`globex-${process.pid}`);
    await dialog.getByRole('button', { name: 'Create organisation' }).click();
    await dialog.getByRole('alert').getByText('That slug is taken. Choose another one.').waitFor();
    owner.allow.pop();
    await dialog.getByLabel('Slug (optional)').fill(`initech-${process.pid}`);
    await dialog.getByRole('button', { name: 'Create organisation' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await switcher.locator('option:checked').textContent(), 'Initech (owner)');

    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Delete organisation…' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete Initech?' });
    const go = confirm.getByRole('button', { name: 'Delete organisation' });
    assert.equal(await go.isDisabled(), true);
    await confirm.getByLabel(/Type .* to confirm/).fill(`initech-${process.pid}`);
    await screenshot(page, 'delete-org-confirm');
    await go.click();
    await confirm.waitFor({ state: 'detached' });
    await page.getByText('Initech was deleted.').waitFor();
    assert.equal(await switcher.locator('option', { hasText: 'Initech' }).count(), 0);
    assert.equal(await switcher.locator('option:checked').textContent(), 'Globex (owner)');
    await screenshot(page, 'org-deleted');
    owner.assertClean();
  });

  run('creates, edits, re-keys and deletes an OAuth app; the secret is shown once', async () => {
    await page.getByRole('link', { name: 'OAuth apps' }).click();
    await page.getByText('No OAuth apps').waitFor();
    await page.getByRole('button', { name: 'New OAuth app' }).click();
    const dialog = page.getByRole('dialog', { name: 'New OAuth app' });
    await dialog.getByLabel('Name').fill('Billing Sync');
    await dialog.getByLabel('Redirect URIs').fill('https://billing.example.com/callback');
    await dialog.getByLabel('org:read').check();
    await dialog.getByRole('button', { name: 'Create app' }).click();
    const ready = page.getByRole('dialog', { name: 'Billing Sync is ready' });
    const clientId = await ready.getByLabel('Client id', { exact: true }).inputValue();
    const secret = await ready.getByLabel('Client secret', { exact: true }).inputValue();
    assert.match(clientId, /^lkc_/);
    assert.ok(secret.length > 20);
    await ready.getByRole('button', { name: 'I have copied the secret' }).click();
    const card = page.getByRole('listitem').filter({ hasText: clientId });
    await card.getByText('https://billing.example.com/callback').waitFor();
    assert.ok(!(await page.content()).includes(secret));

    await card.getByRole('button', { name: 'Edit Billing Sync' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit Billing Sync' });
    await edit.getByLabel('Name').fill('Billing Sync v2');
    await edit
      .getByLabel('Redirect URIs')
      .fill('https://billing.example.com/callback\nhttp://127.0.0.1:9000/cb');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await edit.waitFor({ state: 'detached' });
    await card.getByText('http://127.0.0.1:9000/cb').waitFor();
    await card.getByRole('heading', { name: 'Billing Sync v2' }).waitFor();

    await card.getByRole('button', { name: 'Rotate the secret of Billing Sync v2' }).click();
    await page
      .getByRole('dialog', { name: /^Rotate the secret/ })
      .getByRole('button', { name: 'Rotate secret' })
      .click();
    const fresh = page.getByRole('dialog', { name: 'New secret for Billing Sync v2' });
    const rotated = await fresh.getByLabel('Client secret', { exact: true }).inputValue();
    assert.notEqual(rotated, secret);
    await fresh.getByRole('button', { name: 'I have copied it' }).click();
    await screenshot(page, 'oauth-apps');

    await card.getByRole('button', { name: 'Delete Billing Sync v2' }).click();
    const del = page.getByRole('dialog', { name: 'Delete Billing Sync v2?' });
    await del.getByText('Every access and refresh token issued to it is revoked').waitFor();
    await del.getByLabel(/Type .* to confirm/).fill('Billing Sync v2');
    await del.getByRole('button', { name: 'Delete app' }).click();
    await page.getByText('No OAuth apps').waitFor();
    await screenshot(page, 'oauth-app-deleted');
    owner.assertClean();
  });

  run(
    'mint dialog: focus stays inside, Escape closes it and focus returns; a personal token is minted',
    async () => {
      await page.getByRole('link', { name: 'API tokens' }).click();
      const open = page.getByRole('button', { name: 'New personal token' });
      await open.focus();
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog', { name: 'New personal token' });
      await dialog.waitFor();
      assert.equal(await dialog.getByLabel('Name').evaluate((el) => el === document.activeElement), true);
      for (let i = 0; i < 25; i++) {
        await page.keyboard.press(i % 5 === 4 ? 'Shift+Tab' : 'Tab');
        assert.equal(
          await dialog.evaluate((d) => d.contains(document.activeElement)),
          true,
          `focus left the dialog after ${i + 1} presses`,
        );
      }
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      assert.equal(
        await open.evaluate((el) => el === document.activeElement),
        true,
        'focus is back on the button',
      );

      await open.click();
      await dialog.getByLabel('Name').fill('laptop');
      await dialog.getByRole('button', { name: 'Create' }).click();
      const shown = page.getByRole('dialog', { name: 'Your new personal token' });
      const token = await shown.getByLabel('Token', { exact: true }).inputValue();
      assert.match(token, /^lk_pat_/);
      // Minted with no scopes ticked: org:read only (the server's default).
      assert.equal(await shown.locator('dl.facts dd').nth(1).textContent(), 'org:read');
      await shown.getByRole('button', { name: 'I have copied it' }).click();
      await page.getByRole('row').filter({ hasText: 'laptop' }).getByText(token.slice(0, 15)).waitFor();
      // It reads the org, but not the account (that needs a browser session).
      const me = (await (await page.request.get('/api/v1/me')).json()) as {
        org: { id: string } | null;
        orgs: { id: string }[];
      };
      const orgId = me.org?.id ?? me.orgs[0]!.id;
      const auth = { authorization: `Bearer ${token}`, 'x-org-id': orgId };
      assert.equal((await fetch(`${lk.base}/api/v1/org`, { headers: auth })).status, 200);
      assert.equal((await fetch(`${lk.base}/api/v1/me`, { headers: auth })).status, 403, 'no account scope');
      await screenshot(page, 'personal-token');
      owner.assertClean();
    },
  );

  run('account: name, password change (ends the other session), sessions with revoke', async () => {
    const other = await newContext(browser, lk.base);
    const signin = (password: string) =>
      other.context.request.post('/api/auth/signin', {
        data: { email, password },
        headers: { origin: lk.base },
      });
    assert.equal((await signin(PASSWORD)).status(), 200);

    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Olive Q. Owner');
    await page.getByRole('button', { name: 'Save name' }).click();
    await page.getByText('Your name was saved.').waitFor();
    await page.locator('.user-name', { hasText: 'Olive Q. Owner' }).waitFor();

    const sessions = page.getByRole('region', { name: 'Where you are signed in' });
    await sessions.getByRole('row').nth(2).waitFor();
    // A wrong current password is named as such, not as a failed sign-in.
    owner.allow.push(/status of 401 .*\/api\/auth\/password/);
    await page.getByLabel('Current password').fill(`${PASSWORD} typo`);
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('New password again').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('The current password is wrong.').waitFor();
    assert.equal(await page.getByText('The email or password is wrong.').count(), 0);
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('New password again').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText(/Password changed\. \d+ other sessions? (was|were) signed out\./).waitFor();
    assert.equal((await other.context.request.get('/api/v1/me')).status(), 401);

    assert.equal((await signin(NEW_PASSWORD)).status(), 200);
    await page.reload();
    const rows = sessions.getByRole('row');
    await rows.nth(2).waitFor();
    assert.equal(await rows.count(), 3, 'header + this browser + the other');
    await screenshot(page, 'account');
    await sessions
      .getByRole('row')
      .filter({ hasNotText: 'this browser' })
      .getByRole('button', { name: /^Sign out / })
      .click();
    await page
      .getByRole('dialog', { name: 'Sign out that session?' })
      .getByRole('button', { name: 'Revoke session' })
      .click();
    await page.getByText('The session was signed out.').waitFor();
    assert.equal(await rows.count(), 2);
    assert.equal((await other.context.request.get('/api/v1/me')).status(), 401);
    await other.context.close();
    await screenshot(page, 'account-sessions');
    owner.assertClean();
  });
});

describe('phone width, dark scheme', () => {
  it('the shell, menu and tables fit a phone in dark mode; server pages share the look', async () => {
    const phone = await newContext(browser, lk.base, {
      viewport: { width: 390, height: 844 },
      colorScheme: 'dark',
      isMobile: true,
      hasTouch: true,
    });
    await screenshotOnFailure(
      [phone],
      async () => {
        const res = await phone.context.request.post('/api/auth/signin', {
          data: { email, password: NEW_PASSWORD },
          headers: { origin: lk.base },
        });
        assert.equal(res.status(), 200);
        const p = await phone.context.newPage();
        await p.goto('/app/members');
        await p.getByRole('heading', { name: 'Members', level: 1 }).waitFor();
        const nav = p.getByRole('navigation', { name: 'Main' });
        assert.equal(await nav.isVisible(), false, 'the menu starts closed on a phone');
        const width = await p.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 390, `no sideways scrolling (page is ${width}px wide)`);
        const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
        assert.equal(bg, 'rgb(15, 17, 21)', 'dark background');
        await screenshot(p, 'phone-dark-members');
        await p.getByRole('button', { name: 'Menu' }).click();
        await nav.getByRole('link', { name: 'Audit log' }).click();
        await p.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
        await nav.waitFor({ state: 'hidden' }); // the menu closes after navigating
        await screenshot(p, 'phone-dark-audit');
        await phone.context.clearCookies();
        await p.goto('/login');
        await p.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
        assert.equal(
          await p.evaluate(() => getComputedStyle(document.body).backgroundColor),
          'rgb(15, 17, 21)',
        );
        await screenshot(p, 'phone-dark-login');
        phone.assertClean();
      },
      'phone',
    );
    await phone.context.close();
  });
});
