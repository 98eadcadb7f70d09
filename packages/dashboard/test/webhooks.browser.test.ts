// test-backend: embedded — the subject is the dashboard in a browser, not storage
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { audit, type Receiver, startReceiver, verified } from '@latchkey/server/testing';
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
} from './helpers.js';

const PASSWORD = 'a sturdy passphrase 42';

let built: Awaited<ReturnType<typeof buildDashboard>>;
let lk: Latchkey;
let browser: Browser;
let receiver: Receiver;

before(async () => {
  built = await buildDashboard();
  receiver = await startReceiver();
  [lk, browser] = await Promise.all([
    startLatchkey(built.dir, { env: { WEBHOOK_ALLOW_LOOPBACK: 'true', WEBHOOK_RETRY_BASE_MS: '100' } }),
    launchBrowser(),
  ]);
});

after(async () => {
  await browser?.close();
  await lk?.close();
  await receiver?.close();
  built?.remove();
});

describe('Organisation → Webhooks in Chromium', () => {
  it('adds an endpoint (secret shown once), shows its delivery log and resends a delivery', async () => {
    const w = await newContext(browser, lk.base);
    await screenshotOnFailure(
      [w],
      async () => {
        const email = uniqueEmail('hooks');
        const res = await w.context.request.post('/api/auth/signup', {
          data: { email, password: PASSWORD, name: 'Hook Owner' },
          headers: { origin: lk.base },
        });
        assert.equal(res.status(), 201, await res.text());
        const orgId = (await res.json()).org.id as string;
        const page = await w.context.newPage();
        await verifyEmailInPage(page, lk, email);

        await page.goto('/app/');
        await page.getByRole('link', { name: 'Webhooks' }).click();
        await page.getByRole('button', { name: 'New endpoint' }).click();
        await page.getByLabel('URL').fill(receiver.url);
        await page.getByLabel('Events').fill('org.*');
        await page.getByRole('button', { name: 'Add endpoint' }).click();
        const secretField = page.getByTestId('secret-value');
        await secretField.waitFor();
        const secret = await secretField.inputValue();
        assert.match(secret, /^whsec_/);
        await screenshot(page, 'webhooks-secret');
        await page.getByRole('button', { name: 'Done' }).click();
        await page.getByRole('cell', { name: receiver.url }).waitFor();

        await audit(
          lk.t.deps.db,
          lk.t.deps.clock,
          { actor: 'system', ip: null, userAgent: null },
          {
            orgId,
            action: 'org.updated',
          },
        );
        for (let i = 0; i < 400 && receiver.received.length === 0; i++) await page.waitForTimeout(25);
        assert.equal(verified(secret, receiver.received[0]!).type, 'org.updated');

        await page.getByRole('button', { name: 'Deliveries' }).click();
        await page.getByRole('cell', { name: 'delivered' }).first().waitFor();
        await screenshot(page, 'webhooks-deliveries');
        await page.getByRole('button', { name: 'Resend org.updated' }).first().click();
        await page.getByText('org.updated will be sent again.').waitFor();
        for (let i = 0; i < 400 && receiver.received.length < 2; i++) await page.waitForTimeout(25);
        assert.equal(receiver.received.length, 2);
        assert.equal(
          receiver.received[1]!.headers['webhook-id'],
          receiver.received[0]!.headers['webhook-id'],
        );
        w.assertClean();
      },
      'webhooks',
    );
  });
});
