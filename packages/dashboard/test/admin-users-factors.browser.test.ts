// test-backend: embedded — the subject is the dashboard in a browser, not storage
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { lastMailTo, newId } from '@latchkey/server/testing';
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

describe('Admin → Users: removing a second factor in Chromium', () => {
  it('lists the person’s passkeys with a Remove button, asks to confirm, and removes only after confirming', async () => {
    const op = await newContext(browser, lk.base);
    const person = await newContext(browser, lk.base);
    await screenshotOnFailure(
      [op, person],
      async () => {
        const email = await signedUp(person, await person.context.newPage(), 'Lena Lostphone');
        const page = await op.context.newPage();
        const opEmail = await signedUp(op, page, 'Otto Operator');
        const db = lk.t.deps.db;
        await db.updateTable('users').set({ instance_admin: true }).where('email', '=', opEmail).execute();
        const { id: userId } = await db
          .selectFrom('users')
          .select('id')
          .where('email', '=', email)
          .executeTakeFirstOrThrow();
        const passkeyId = newId();
        await db
          .insertInto('passkeys')
          .values({
            id: passkeyId,
            user_id: userId,
            credential_id: `cred-${passkeyId}`,
            public_key: 'pQECAyYgASFYIA',
            name: 'Old phone',
            created_at: new Date(),
            last_used_at: null,
          })
          .execute();

        await page.goto('/app/');
        await page.getByRole('link', { name: 'Users' }).click();
        await page.getByLabel('Search by email or name').fill('Lena');
        await page.getByRole('button', { name: 'Search' }).click();
        await page.getByRole('button', { name: `Open ${email}` }).click();
        const remove = page.getByRole('button', { name: 'Remove Passkey “Old phone”' });
        await remove.waitFor();
        await both(page, 'admin-user-factors');
        // Cancelling changes nothing.
        await remove.click();
        await page.getByRole('heading', { name: `Remove the passkey “Old phone” from ${email}?` }).waitFor();
        await both(page, 'admin-user-factor-confirm');
        await page.getByRole('button', { name: 'Cancel' }).click();
        assert.equal(
          (await db.selectFrom('passkeys').select('id').where('id', '=', passkeyId).execute()).length,
          1,
        );

        await remove.click();
        await page.getByRole('button', { name: 'Remove', exact: true }).click();
        await page.getByText('removed from').first().waitFor();
        await remove.waitFor({ state: 'detached' });
        assert.equal(
          (await db.selectFrom('passkeys').select('id').where('id', '=', passkeyId).execute()).length,
          0,
        );
        assert.equal(
          (await lastMailTo(lk.t.outboxDir, email)).subject,
          'A second factor was removed from your Latchkey account',
        );
        op.assertClean();
      },
      'admin-user-factors',
    );
  });
});
