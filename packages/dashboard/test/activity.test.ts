// test-backend: embedded — the subject is the dashboard in a browser, not storage
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
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

// Account → Activity: the person sees what happened to their account, including a failed
// sign-in someone else tried (the attempt a person could not see anywhere before).

let built: Awaited<ReturnType<typeof buildDashboard>>;
let lk: Latchkey;
let browser: Browser;
let person: Watched;
let stranger: Watched;
const email = uniqueEmail('activity');
const password = 'a sturdy passphrase 42';

before(async () => {
  built = await buildDashboard();
  [lk, browser] = await Promise.all([startLatchkey(built.dir), launchBrowser()]);
  person = await newContext(browser, lk.base);
  stranger = await newContext(browser, lk.base, {
    userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0',
  });
  const res = await person.context.request.post('/api/auth/signup', {
    data: { email, password, name: 'Ada Activity' },
    headers: { origin: lk.base },
  });
  assert.equal(res.status(), 201, await res.text());
  // Another person signs up (their events must not show), from a browser of their own.
  const elsewhere = await newContext(browser, lk.base);
  const other = await elsewhere.context.request.post('/api/auth/signup', {
    data: { email: uniqueEmail('other'), password, name: 'Otto Other' },
    headers: { origin: lk.base },
  });
  assert.equal(other.status(), 201, await other.text());
  await elsewhere.context.close();
  // Someone not signed in guesses at the person's password.
  const guess = await stranger.context.request.post('/api/auth/signin', {
    data: { email, password: 'a wrong guess 12345' },
    headers: { origin: lk.base },
  });
  assert.equal(guess.status(), 401);
});

after(async () => {
  await browser?.close();
  await lk?.close();
  built?.remove();
});

describe('Account → Activity', () => {
  it('lists the account’s own events, newest first, with the failed sign-in a stranger tried', () =>
    screenshotOnFailure(
      [person],
      async () => {
        const page = await person.context.newPage();
        await page.goto('/app/account');
        await page.getByRole('link', { name: 'Activity' }).click();
        await page.getByRole('heading', { name: 'Your activity' }).waitFor();
        assert.equal(new URL(page.url()).pathname, '/app/account/activity');

        const failed = page.getByRole('row').filter({ hasText: 'Failed sign-in with password' });
        await failed.waitFor();
        assert.match(await failed.innerText(), /Someone not signed in/);
        assert.match(await failed.innerText(), /Firefox on Windows/);
        const created = page.getByRole('row').filter({ hasText: 'Account created' });
        assert.equal(await created.count(), 1, 'only this account’s sign-up, not the other person’s');
        const actions = await page
          .locator('tbody tr')
          .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
        assert.equal(actions[0], 'user.signin_failed', 'newest first');
        assert.ok(actions.includes('user.signup'));
        await screenshot(page, 'account-activity');
        person.assertClean();
      },
      'activity',
    ));
});
