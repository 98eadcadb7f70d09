// test-backend: embedded — the subject is the dashboard in a browser, not storage
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { lastMailTo } from '@latchkey/server/testing';
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
  type Watched,
} from './helpers.js';

let built: Awaited<ReturnType<typeof buildDashboard>>;
let lk: Latchkey;
let browser: Browser;
let operator: Watched;
let visitor: Watched;

before(async () => {
  built = await buildDashboard();
  [lk, browser] = await Promise.all([startLatchkey(built.dir), launchBrowser()]);
  operator = await newContext(browser, lk.base);
  visitor = await newContext(browser, lk.base);
  const email = uniqueEmail('operator');
  const res = await operator.context.request.post('/api/auth/signup', {
    data: { email, password: 'a sturdy passphrase 42', name: 'Opal Operator' },
    headers: { origin: lk.base },
  });
  assert.equal(res.status(), 201, await res.text());
  // The operator /setup would have made: the instance admin.
  await lk.t.deps.db.updateTable('users').set({ instance_admin: true }).where('email', '=', email).execute();
});

after(async () => {
  await browser?.close();
  await lk?.close();
  built?.remove();
});

describe('instance admin: sign-up policy and waitlist', () => {
  it('the operator switches sign-ups to a waitlist, a visitor asks to join, the operator approves', () =>
    screenshotOnFailure(
      [operator, visitor],
      async () => {
        const page = await operator.context.newPage();
        await page.goto('/app/');
        await page.getByRole('link', { name: 'Sign-ups' }).click();
        await page.getByRole('heading', { name: 'Who may sign up' }).waitFor();
        assert.equal(await page.getByRole('radio', { name: /^Open/ }).isChecked(), true);
        await page.getByRole('radio', { name: /^Waitlist/ }).check();
        await page.getByRole('button', { name: 'Save policy' }).click();
        await page.getByText('Sign-ups are now: Waitlist.').waitFor();
        await page.getByText('No pending requests').waitFor();

        visitor.allow.push(SIGNED_OUT_PROBE);
        const v = await visitor.context.newPage();
        const email = uniqueEmail('visitor');
        await v.goto('/app/');
        await v.getByRole('tab', { name: 'Create account' }).click();
        await v.getByLabel('Your name').fill('Vic Visitor');
        await v.getByLabel('Email').fill(email);
        await v.getByLabel('Password').fill('a sturdy passphrase 42');
        await v.getByRole('button', { name: 'Create account' }).click();
        await v
          .getByRole('status')
          .filter({ hasText: /waitlist|approv/i })
          .waitFor();
        await screenshot(v, 'signup-waitlisted');
        visitor.assertClean();

        await page.reload();
        const row = page.getByRole('row').filter({ hasText: email });
        await row.getByText('Vic Visitor').waitFor();
        await screenshot(page, 'admin-waitlist');
        await row.getByRole('button', { name: `Approve ${email}` }).click();
        await page.getByText(`Approved: ${email} was sent a sign-up link.`).waitFor();
        assert.match((await lastMailTo(lk.t.outboxDir, email)).text, new RegExp(lk.base));
        await page.getByRole('tab', { name: 'Approved' }).click();
        await page
          .getByRole('row')
          .filter({ hasText: email })
          .getByRole('button', { name: `Send ${email} a new link` })
          .waitFor();
        await screenshot(page, 'admin-waitlist-approved');
        operator.assertClean();
      },
      'admin',
    ));
});
