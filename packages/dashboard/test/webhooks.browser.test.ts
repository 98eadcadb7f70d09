// test-backend: embedded — the subject is the dashboard in a browser, not storage
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
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
  type Watched,
} from './helpers.js';

const PASSWORD = 'a sturdy passphrase 42';

let built: Awaited<ReturnType<typeof buildDashboard>>;
let lk: Latchkey;
let browser: Browser;
let receiver: Receiver;
let instanceReceiver: Receiver;

before(async () => {
  built = await buildDashboard();
  [receiver, instanceReceiver] = await Promise.all([startReceiver(), startReceiver()]);
  [lk, browser] = await Promise.all([
    startLatchkey(built.dir, { env: { WEBHOOK_ALLOW_LOOPBACK: 'true', WEBHOOK_RETRY_BASE_MS: '100' } }),
    launchBrowser(),
  ]);
});

after(async () => {
  await browser?.close();
  await lk?.close();
  await receiver?.close();
  await instanceReceiver?.close();
  built?.remove();
});

/** Signs a person up through the API and proves their address in `page`; answers the email and org. */
async function signedUp(w: Watched, page: Page, name: string): Promise<{ email: string; orgId: string }> {
  const email = uniqueEmail(name.toLowerCase().split(' ')[0]!);
  const res = await w.context.request.post('/api/auth/signup', {
    data: { email, password: PASSWORD, name },
    headers: { origin: lk.base },
  });
  assert.equal(res.status(), 201, await res.text());
  const orgId = (await res.json()).org.id as string;
  await verifyEmailInPage(page, lk, email);
  return { email, orgId };
}

/** Records `action` in the audit log (in `orgId`, or the instance's with null), as the server does. */
async function record(orgId: string | null, action: string): Promise<void> {
  await audit(
    lk.t.deps.db,
    lk.t.deps.clock,
    { actor: 'system', ip: null, userAgent: null },
    { orgId, action },
  );
}

/** Waits until `r` has received `n` requests. */
async function receivedCount(page: Page, r: Receiver, n: number): Promise<void> {
  for (let i = 0; i < 400 && r.received.length < n; i++) await page.waitForTimeout(25);
  assert.equal(r.received.length, n);
}

/**
 * Rotates the signing secret of the endpoint at `url` on the Webhooks page open in `page`, through
 * its confirmation; answers the new secret, shown once.
 */
async function rotateSecret(page: Page, url: string, screenshotName: string): Promise<string> {
  await page.getByRole('button', { name: `Rotate secret of ${url}` }).click();
  await page.getByRole('heading', { name: 'Rotate the signing secret?' }).waitFor();
  await page.getByText('The old secret stops verifying at once').waitFor();
  await screenshot(page, `${screenshotName}-confirm`);
  await page.getByRole('button', { name: 'Rotate', exact: true }).click();
  await page.getByRole('heading', { name: 'Signing secret rotated' }).waitFor();
  await page.getByText('Copy the signing secret now: it is shown only once').waitFor();
  const secret = await page.getByTestId('secret-value').inputValue();
  await screenshot(page, `${screenshotName}-secret`);
  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByRole('heading', { name: 'Signing secret rotated' }).waitFor({ state: 'detached' });
  return secret;
}

describe('Organisation → Webhooks in Chromium', () => {
  it('adds an endpoint (secret shown once), shows its delivery log and resends a delivery', async () => {
    const w = await newContext(browser, lk.base);
    await screenshotOnFailure(
      [w],
      async () => {
        const page = await w.context.newPage();
        const { orgId } = await signedUp(w, page, 'Hook Owner');

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
        await page.getByRole('cell', { name: receiver.url, exact: true }).waitFor();

        await record(orgId, 'org.updated');
        await receivedCount(page, receiver, 1);
        assert.equal(verified(secret, receiver.received[0]!).type, 'org.updated');

        await page.getByRole('button', { name: 'Deliveries' }).click();
        await page.getByRole('cell', { name: 'delivered' }).first().waitFor();
        await screenshot(page, 'webhooks-deliveries');
        await page.getByRole('button', { name: 'Resend org.updated' }).first().click();
        await page.getByText('org.updated will be sent again.').waitFor();
        await receivedCount(page, receiver, 2);
        assert.equal(
          receiver.received[1]!.headers['webhook-id'],
          receiver.received[0]!.headers['webhook-id'],
        );
        w.assertClean();
      },
      'webhooks',
    );
  });

  it('rotates an endpoint’s signing secret: what is sent next verifies with the new secret only', async () => {
    const w = await newContext(browser, lk.base);
    await screenshotOnFailure(
      [w],
      async () => {
        const page = await w.context.newPage();
        const { orgId } = await signedUp(w, page, 'Rota Owner');
        const r = await startReceiver('/rotating');
        try {
          await page.goto('/app/webhooks');
          await page.getByRole('button', { name: 'New endpoint' }).click();
          await page.getByLabel('URL').fill(r.url);
          await page.getByLabel('Events').fill('member.role_changed');
          await page.getByRole('button', { name: 'Add endpoint' }).click();
          const old = await page.getByTestId('secret-value').inputValue();
          await page.getByRole('button', { name: 'Done' }).click();

          const secret = await rotateSecret(page, r.url, 'webhooks-rotate');
          assert.match(secret, /^whsec_/);
          assert.notEqual(secret, old);

          await record(orgId, 'member.role_changed');
          await receivedCount(page, r, 1);
          assert.equal(verified(secret, r.received[0]!).type, 'member.role_changed');
          assert.throws(() => verified(old, r.received[0]!));
        } finally {
          await r.close();
        }
        w.assertClean();
      },
      'webhooks-rotate',
    );
  });

  it('shows no instance Webhooks screen to someone who does not operate the server', async () => {
    const w = await newContext(browser, lk.base);
    await screenshotOnFailure(
      [w],
      async () => {
        const page = await w.context.newPage();
        await signedUp(w, page, 'Plain Owner');
        await page.goto('/app/');
        const links = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Webhooks' });
        await links.first().waitFor();
        assert.deepEqual(await links.evaluateAll((as) => as.map((a) => a.getAttribute('href'))), [
          '/app/webhooks',
        ]);
        await page.goto('/app/admin/webhooks');
        await page.getByText('Not available to you here').waitFor();
        assert.equal(await page.getByRole('button', { name: 'New endpoint' }).count(), 0);
        w.assertClean();
      },
      'webhooks-not-admin',
    );
  });
});

describe('Instance → Webhooks in Chromium', () => {
  it('an instance admin adds an instance endpoint and rotates its secret; the old secret stops verifying', async () => {
    const w = await newContext(browser, lk.base);
    await screenshotOnFailure(
      [w],
      async () => {
        const page = await w.context.newPage();
        const { email } = await signedUp(w, page, 'Otto Operator');
        await lk.t.deps.db
          .updateTable('users')
          .set({ instance_admin: true })
          .where('email', '=', email)
          .execute();

        await page.goto('/app/');
        const instance = page
          .getByRole('navigation', { name: 'Main' })
          .locator('.nav-group', { has: page.getByText('Instance', { exact: true }) });
        await instance.getByRole('link', { name: 'Webhooks' }).click();
        await page.getByText('the audit events of every organisation and of the instance itself').waitFor();
        await page.getByRole('button', { name: 'New endpoint' }).click();
        await page.getByLabel('URL').fill(instanceReceiver.url);
        await page.getByLabel('Events').fill('admin_token.used');
        await page.getByRole('button', { name: 'Add endpoint' }).click();
        const old = await page.getByTestId('secret-value').inputValue();
        assert.match(old, /^whsec_/);
        await page.getByRole('button', { name: 'Done' }).click();
        await page.getByRole('cell', { name: instanceReceiver.url, exact: true }).waitFor();
        await screenshot(page, 'webhooks-instance');
        const [row] = await lk.t.deps.db
          .selectFrom('webhook_endpoints')
          .select('org_id')
          .where('url', '=', instanceReceiver.url)
          .execute();
        assert.equal(row?.org_id, null, 'an instance endpoint belongs to no org');

        // An event outside any org reaches the instance endpoint, signed with the first secret.
        await record(null, 'admin_token.used');
        await receivedCount(page, instanceReceiver, 1);
        assert.equal(verified(old, instanceReceiver.received[0]!).type, 'admin_token.used');

        const secret = await rotateSecret(page, instanceReceiver.url, 'webhooks-instance-rotate');
        assert.match(secret, /^whsec_/);
        assert.notEqual(secret, old);

        await record(null, 'admin_token.used');
        await receivedCount(page, instanceReceiver, 2);
        const next = instanceReceiver.received[1]!;
        assert.equal(verified(secret, next).type, 'admin_token.used');
        assert.throws(() => verified(old, next));

        // Its delivery log is the instance's too.
        await page.getByRole('button', { name: 'Deliveries' }).click();
        await page.getByRole('cell', { name: 'delivered' }).nth(1).waitFor();
        w.assertClean();
      },
      'webhooks-instance',
    );
  });
});
