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

const PASSWORD = 'correct horse battery staple';

let built: Awaited<ReturnType<typeof buildDashboard>>;
let lk: Latchkey;
let browser: Browser;
let alice: Watched;
let bob: Watched;

before(async () => {
  built = await buildDashboard();
  [lk, browser] = await Promise.all([startLatchkey(built.dir), launchBrowser()]);
  alice = await newContext(browser, lk.base);
  bob = await newContext(browser, lk.base);
  await alice.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: lk.base });
});

after(async () => {
  await browser?.close();
  await lk?.close();
  built?.remove();
});

async function bearer(token: string, path: string, org: string) {
  return fetch(`${lk.base}${path}`, { headers: { authorization: `Bearer ${token}`, 'x-org-id': org } });
}

describe('dashboard: sign up, org, members, org keys, audit', () => {
  const aliceEmail = uniqueEmail('alice');
  const bobEmail = uniqueEmail('bob');
  let page: Page;
  let orgSlug = '';

  it('signs up from the signed-out screen and creates an org', () =>
    screenshotOnFailure(
      [alice, bob],
      async () => {
        alice.allow.push(SIGNED_OUT_PROBE);
        page = await alice.context.newPage();
        await page.goto('/');
        assert.match(page.url(), /\/app\/$/);
        await page.getByRole('tab', { name: 'Create account' }).click();
        await page.getByLabel('Your name').fill('Alice Admin');
        await page.getByLabel('Email').fill(aliceEmail);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Create account' }).click();
        await page.getByRole('button', { name: 'Sign out' }).waitFor();
        await page.getByRole('heading', { name: 'Members', level: 1 }).waitFor();
        assert.match(page.url(), /\/app\/members$/);
        assert.equal(await page.getByRole('link', { name: 'Sign-ups' }).count(), 0, 'not an instance admin');
        alice.allow.pop();

        // Until the address is proven, the dashboard says so; the mailed link clears it.
        const banner = page.getByText('Verify your email address to create tokens and apps');
        await banner.waitFor();
        await page.getByRole('button', { name: 'Resend the link' }).click();
        await page.getByText(`A confirmation link is on its way to ${aliceEmail}.`).first().waitFor();
        await verifyEmailInPage(page, lk, aliceEmail);
        await page.getByRole('heading', { name: 'Members', level: 1 }).waitFor();
        assert.equal(await banner.count(), 0, 'the banner is gone once the address is proven');

        const switcher = page.getByLabel('Organisation', { exact: true });
        await switcher.selectOption({ label: '＋ New organisation…' });
        const dialog = page.getByRole('dialog', { name: 'New organisation' });
        await dialog.getByLabel('Name').fill('Acme Robotics');
        await dialog.getByRole('button', { name: 'Create organisation' }).click();
        await dialog.waitFor({ state: 'detached' });
        await page.getByText('Created Acme Robotics. You are its owner.').waitFor();
        assert.equal(await switcher.locator('option:checked').textContent(), 'Acme Robotics (owner)');
        const me = (await (await page.request.get('/api/v1/me')).json()) as {
          orgs: { slug: string; name: string }[];
        };
        orgSlug = me.orgs.find((o) => o.name === 'Acme Robotics')!.slug;
        await screenshot(page, 'org-created');
        alice.assertClean();
      },
      'dashboard',
    ));

  it('invites a member, who accepts in another browser; the admin changes their role', () =>
    screenshotOnFailure(
      [alice, bob],
      async () => {
        await page.getByRole('heading', { name: 'Invite someone' }).waitFor();
        await page.getByLabel('Email').fill(bobEmail);
        await page.getByLabel('Role', { exact: true }).selectOption('member');
        await page.getByRole('button', { name: 'Send invitation' }).click();
        await page.getByText(`Invitation sent to ${bobEmail}.`).waitFor();
        const pending = page.getByRole('region', { name: 'Pending invitations' });
        await pending.getByRole('cell', { name: bobEmail, exact: true }).waitFor();

        const link = linkIn((await lastMailTo(lk.t.outboxDir, bobEmail)).text, `${lk.base}/invite`);
        const bobPage = await bob.context.newPage();
        await bobPage.goto(link);
        await bobPage.getByText('You are invited to join').waitFor();
        await bobPage.getByLabel('Your name').fill('Bob Builder');
        await bobPage.getByLabel(/^Password/).fill(PASSWORD);
        await bobPage.getByRole('button', { name: 'Create account and join' }).click();
        await bobPage.getByRole('button', { name: 'Sign out' }).waitFor();
        assert.equal(
          await bobPage.getByLabel('Organisation', { exact: true }).locator('option:checked').textContent(),
          'Acme Robotics (member)',
        );
        await bobPage.getByRole('heading', { name: 'Members', level: 1 }).waitFor();
        // A member sees the list but none of the admin controls.
        await bobPage.getByRole('cell', { name: aliceEmail, exact: true }).waitFor();
        assert.equal(await bobPage.getByRole('button', { name: 'Send invitation' }).count(), 0);
        assert.equal(await bobPage.getByRole('link', { name: 'Audit log' }).count(), 0);
        await screenshot(bobPage, 'member-view');
        bob.assertClean();

        await page.reload();
        const role = page.getByLabel('Role for Bob Builder');
        await role.waitFor();
        assert.equal(await role.inputValue(), 'member');
        await role.selectOption('admin');
        await page.getByText('Bob Builder is now admin.').waitFor();
        await page.getByText('No pending invitations').waitFor();
        const members = (await (
          await page.request.get('/api/v1/org/members', { headers: { 'x-org-id': orgSlug } })
        ).json()) as { data: { email: string; role: string }[] };
        assert.equal(members.data.find((m) => m.email === bobEmail)?.role, 'admin');
        await screenshot(page, 'members');
        alice.assertClean();
      },
      'dashboard',
    ));

  it('mints an org API key, shows it once, rotates it, revokes it', () =>
    screenshotOnFailure(
      [alice, bob],
      async () => {
        await page.getByRole('link', { name: 'API tokens' }).click();
        await page.getByRole('tab', { name: 'Org API keys' }).click();
        await page.getByText('No org API keys').waitFor();
        await page.getByRole('button', { name: 'New org API key' }).click();
        const dialog = page.getByRole('dialog', { name: 'New org API key' });
        await dialog.getByLabel('Name').fill('ci-deploy');
        await dialog.getByLabel('Expires after').selectOption({ label: '30 days' });
        await dialog.getByLabel('members:read').check();
        await dialog.getByLabel('audit:read').check();
        await dialog.getByRole('button', { name: 'Create' }).click();

        const shown = page.getByRole('dialog', { name: 'Your new org API key' });
        await shown.getByText('Copy it now: it is shown only once').waitFor();
        const token = await shown.getByLabel('Token', { exact: true }).inputValue();
        assert.match(token, /^lk_org_[A-Za-z0-9]+$/);
        await shown.getByRole('button', { name: 'Copy token' }).click();
        await shown.getByText('Copied to the clipboard.').waitFor();
        assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
        assert.equal((await bearer(token, '/api/v1/org/members', orgSlug)).status, 200);
        await screenshot(page, 'org-key-shown-once');
        await shown.getByRole('button', { name: 'I have copied it' }).click();
        await shown.waitFor({ state: 'detached' });

        const row = page.getByRole('row').filter({ hasText: 'ci-deploy' });
        await row.getByText(token.slice(0, 15)).waitFor();
        assert.ok(!(await page.content()).includes(token), 'the plaintext is gone once the dialog closes');

        // Rotating: a new secret, shown once; the old one refused at once.
        await row.getByRole('button', { name: 'Rotate ci-deploy' }).click();
        const rotate = page.getByRole('dialog', { name: 'Rotate ci-deploy?' });
        await rotate.getByRole('button', { name: 'Rotate' }).click();
        const again = page.getByRole('dialog', { name: 'Your new org API key' });
        const rotated = await again.getByLabel('Token', { exact: true }).inputValue();
        assert.match(rotated, /^lk_org_[A-Za-z0-9]+$/);
        assert.notEqual(rotated, token);
        assert.equal((await bearer(token, '/api/v1/org/members', orgSlug)).status, 401);
        assert.equal((await bearer(rotated, '/api/v1/org/members', orgSlug)).status, 200);
        await again.getByRole('button', { name: 'I have copied it' }).click();
        await again.waitFor({ state: 'detached' });
        await row.getByText(rotated.slice(0, 15)).waitFor();
        assert.equal(await page.getByRole('row').filter({ hasText: 'ci-deploy' }).count(), 1);

        await row.getByRole('button', { name: 'Revoke ci-deploy' }).click();
        const confirm = page.getByRole('dialog', { name: 'Revoke ci-deploy?' });
        await confirm.getByRole('button', { name: 'Revoke' }).click();
        await confirm.waitFor({ state: 'detached' });
        await page.getByText('No org API keys').waitFor();
        assert.equal((await bearer(rotated, '/api/v1/org/members', orgSlug)).status, 401);
        await screenshot(page, 'org-key-revoked');
        alice.assertClean();
      },
      'dashboard',
    ));

  it('shows the key’s events in the audit log, with details, filters and export', () =>
    screenshotOnFailure(
      [alice, bob],
      async () => {
        await page.getByRole('link', { name: 'Audit log' }).click();
        await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
        const table = page.locator('table.audit-table');
        await table.getByRole('cell', { name: 'token.created', exact: true }).waitFor();
        await table.getByRole('cell', { name: 'token.rotated', exact: true }).waitFor();
        await table.getByRole('cell', { name: 'token.revoked', exact: true }).waitFor();
        await table.getByRole('cell', { name: 'member.role_changed', exact: true }).waitFor();

        await table.getByRole('row').filter({ hasText: 'token.revoked' }).getByRole('button').click();
        const drawer = page.getByRole('dialog', { name: 'token.revoked' });
        await drawer.getByText('"prefix": "lk_org_').waitFor();
        await screenshot(page, 'audit-drawer');
        await page.keyboard.press('Escape');
        await drawer.waitFor({ state: 'detached' });

        await page.getByLabel('Action').fill('token.*');
        await page.getByRole('button', { name: 'Apply filters' }).click();
        await page.waitForURL(/action=token\.\*/);
        // The filtered page has loaded once the count is shown again (the table is away meanwhile).
        await page.getByText('Showing 3 events.').waitFor();
        assert.equal(await table.getByRole('cell', { name: 'member.role_changed', exact: true }).count(), 0);
        assert.equal(await table.getByRole('cell', { name: /^token\./ }).count(), 3);

        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('button', { name: 'Export CSV' }).click(),
        ]);
        const csv = readFileSync((await download.path())!, 'utf8');
        assert.match(csv, /^created_at,actor,action,target/);
        assert.match(csv, /"token\.revoked"/);
        assert.match(csv, /"token\.created"/);
        assert.match(csv, /"token\.rotated"/);
        const [jsonl] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('button', { name: 'Export JSON lines' }).click(),
        ]);
        const lines = readFileSync((await jsonl.path())!, 'utf8')
          .trim()
          .split('\n');
        assert.deepEqual(lines.map((l) => (JSON.parse(l) as { action: string }).action).sort(), [
          'token.created',
          'token.revoked',
          'token.rotated',
        ]);
        // A time range with nothing in it: the empty state says what to do.
        await page.getByLabel('From').fill('2099-01-01T00:00');
        await page.getByRole('button', { name: 'Apply filters' }).click();
        await page.getByText('No events match these filters').waitFor();
        assert.match(page.url(), /since=2099-/);
        await page.getByRole('button', { name: 'Clear' }).click();
        await table.getByRole('cell', { name: 'member.role_changed', exact: true }).waitFor();
        await screenshot(page, 'audit');
        alice.assertClean();
      },
      'dashboard',
    ));

  it('resends and cancels an invitation, removes a member', () =>
    screenshotOnFailure(
      [alice, bob],
      async () => {
        const carol = uniqueEmail('carol');
        await page.getByRole('link', { name: 'Members' }).click();
        await page.getByLabel('Email').fill(carol);
        await page.getByLabel('Role', { exact: true }).selectOption('billing');
        await page.getByRole('button', { name: 'Send invitation' }).click();
        await page.getByText(`Invitation sent to ${carol}.`).waitFor();
        const first = linkIn((await lastMailTo(lk.t.outboxDir, carol)).text, `${lk.base}/invite`);
        const row = page
          .getByRole('region', { name: 'Pending invitations' })
          .getByRole('row')
          .filter({ hasText: carol });
        await row.getByRole('button', { name: `Resend the invitation to ${carol}` }).click();
        await page.getByText(`Invitation sent again to ${carol}.`).waitFor();
        const second = linkIn((await lastMailTo(lk.t.outboxDir, carol)).text, `${lk.base}/invite`);
        assert.notEqual(second, first, 'a resend mails a new link');
        await row.getByRole('button', { name: `Cancel the invitation for ${carol}` }).click();
        await page
          .getByRole('dialog', { name: 'Cancel this invitation?' })
          .getByRole('button', { name: 'Cancel invitation' })
          .click();
        await page.getByText('No pending invitations').waitFor();

        await page.getByRole('button', { name: 'Remove Bob Builder' }).click();
        const confirm = page.getByRole('dialog', { name: 'Remove Bob Builder?' });
        await confirm.getByRole('button', { name: 'Remove member' }).click();
        await confirm.waitFor({ state: 'detached' });
        await page.getByText('Bob Builder was removed.').waitFor();
        assert.equal(await page.getByRole('cell', { name: bobEmail, exact: true }).count(), 0);
        alice.assertClean();

        // Bob is no longer in Acme: his dashboard falls back to an org he is still in.
        const bobPage = bob.context.pages()[0]!;
        await bobPage.goto('/app/');
        await bobPage.getByRole('heading', { name: 'Members', level: 1 }).waitFor();
        const switcher = bobPage.getByLabel('Organisation', { exact: true });
        assert.equal(await switcher.locator('option', { hasText: 'Acme Robotics' }).count(), 0);
        assert.doesNotMatch((await switcher.locator('option:checked').textContent()) ?? '', /Acme/);
        await screenshot(bobPage, 'removed-member');
        bob.assertClean();
      },
      'dashboard',
    ));

  it("hides what /api/v1/me's permissions leave out, whatever the role", () =>
    screenshotOnFailure(
      [alice],
      async () => {
        // The server lists the owner's permissions; the dashboard shows what that list allows.
        const me = (await (await page.request.get('/api/v1/me')).json()) as {
          orgs: { slug: string; role: string; permissions: string[] }[];
        };
        const acme = me.orgs.find((o) => o.slug === orgSlug)!;
        assert.equal(acme.role, 'owner');
        assert.ok(acme.permissions.includes('invitations:manage'), acme.permissions.join(' '));
        await page.getByRole('heading', { name: 'Invite someone' }).waitFor();
        await page.getByRole('link', { name: 'Audit log' }).waitFor();

        // Told the same owner may only read, the dashboard offers no invitations and no audit log.
        await page.route('**/api/v1/me', async (route) => {
          if (route.request().method() !== 'GET') return route.fallback();
          const res = await route.fetch();
          const body = (await res.json()) as { orgs: { permissions: string[] }[] };
          for (const o of body.orgs) o.permissions = ['org:read', 'members:read'];
          await route.fulfill({ response: res, json: body });
        });
        await page.reload();
        await page.getByRole('heading', { name: 'Members', level: 1 }).waitFor();
        await page.getByRole('cell', { name: aliceEmail, exact: true }).waitFor();
        assert.equal(await page.getByRole('heading', { name: 'Invite someone' }).count(), 0);
        assert.equal(await page.getByRole('link', { name: 'Audit log' }).count(), 0);
        await page.unroute('**/api/v1/me');

        await page.reload();
        await page.getByRole('heading', { name: 'Invite someone' }).waitFor();
        await page.getByRole('link', { name: 'Audit log' }).waitFor();
        alice.assertClean();
      },
      'dashboard',
    ));
});
