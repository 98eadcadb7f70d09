// test-backend: embedded — the subject is the dashboard in a browser, not storage
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { lastMailTo, linkIn, tokenFrom, usageCounterOf } from '@latchkey/server/testing';
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

const ADMIN_TOKEN = 'break-glass-admin-token-for-dashboard-tests-0123';

let built: Awaited<ReturnType<typeof buildDashboard>>;
let lk: Latchkey;
let browser: Browser;
let admin: Watched;
let page: Page;

interface Signed {
  api_key: string;
  org_id: string;
  agent_id: string;
}

/** `POST /api/v1/agent-signup`, the way an agent calls it: no cookie, no Origin. */
async function agentSignup(displayName: string, humanEmail: string): Promise<Signed> {
  const res = await fetch(`${lk.base}/api/v1/agent-signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      display_name: displayName,
      human_email: humanEmail,
      harness: 'claude-code',
      note_to_human: 'I keep the build green.',
    }),
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text) as Signed;
}

async function agentStatus(key: string): Promise<number> {
  return (
    await fetch(`${lk.base}/api/v1/agent-signup/status`, { headers: { authorization: `Bearer ${key}` } })
  ).status;
}

/**
 * A pending agent's org has no members until its overseer approves. To stand for an org admin
 * who reviews it in the dashboard, the break-glass token invites this test's admin into that org.
 */
async function joinAsAdmin(orgId: string, email: string): Promise<void> {
  const inv = await fetch(`${lk.base}/api/v1/org/invitations`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      'x-org-id': orgId,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ email, role: 'admin' }),
  });
  assert.equal(inv.status, 201, await inv.text());
  const token = tokenFrom(linkIn((await lastMailTo(lk.t.outboxDir, email)).text, `${lk.base}/invite`));
  const res = await admin.context.request.post('/api/v1/invitations/accept', {
    data: { token },
    headers: { origin: lk.base },
  });
  assert.equal(res.status(), 200, await res.text());
}

before(async () => {
  built = await buildDashboard();
  [lk, browser] = await Promise.all([startLatchkey(built.dir, { env: { ADMIN_TOKEN } }), launchBrowser()]);
  admin = await newContext(browser, lk.base);
  const email = uniqueEmail('agent-admin');
  const res = await admin.context.request.post('/api/auth/signup', {
    data: { email, password: 'a sturdy passphrase 42', name: 'Ada Approver' },
    headers: { origin: lk.base },
  });
  assert.equal(res.status(), 201, await res.text());
  page = await admin.context.newPage();
});

after(async () => {
  await browser?.close();
  await lk?.close();
  built?.remove();
});

describe('agents in the dashboard', () => {
  it('an admin approves a pending agent, follows its audit trail, then revokes it', () =>
    screenshotOnFailure(
      [admin],
      async () => {
        const overseer = uniqueEmail('overseer');
        const agent = await agentSignup('Build Bot', overseer);
        const me = (await (await admin.context.request.get('/api/v1/me')).json()) as {
          user: { email: string };
        };
        await joinAsAdmin(agent.org_id, me.user.email);

        await page.goto('/app/');
        await page.getByLabel('Organisation', { exact: true }).selectOption(agent.org_id);
        await page.getByRole('link', { name: 'Agents' }).click();
        const pending = page.getByRole('region', { name: 'Waiting for approval' });
        const card = pending.getByRole('listitem').filter({ hasText: 'Build Bot' });
        await card.getByText(overseer).waitFor();
        await card.getByText('claude-code').waitFor();
        await card.getByText('“I keep the build green.”').waitFor();
        await screenshot(page, 'agents-pending');

        await card.getByRole('button', { name: 'Approve Build Bot' }).click();
        await page.getByText('Build Bot was approved.').waitFor();
        const approved = page
          .getByRole('region', { name: 'Approved agents' })
          .getByRole('listitem')
          .filter({ hasText: 'Build Bot' });
        await approved.locator('.badge', { hasText: 'Approved' }).waitFor();
        const status = await fetch(`${lk.base}/api/v1/agent-signup/status`, {
          headers: { authorization: `Bearer ${agent.api_key}` },
        });
        assert.equal(((await status.json()) as { claim_status: string }).claim_status, 'claimed');

        await approved.getByRole('link', { name: 'Audit trail' }).click();
        await page.waitForURL(/\/app\/audit\?actor=agent%3A/);
        assert.equal(await page.getByLabel('Actor').inputValue(), `agent:${agent.agent_id}`);
        const rows = page.locator('table.audit-table tbody tr');
        await rows.first().waitFor();
        for (const actor of await page.locator('table.audit-table td[data-label="Actor"]').allTextContents())
          assert.match(actor, new RegExp(`agent:${agent.agent_id}`));
        await screenshot(page, 'agent-audit-trail');

        await page.goBack();
        const again = page
          .getByRole('region', { name: 'Approved agents' })
          .getByRole('listitem')
          .filter({ hasText: 'Build Bot' });
        await again.getByRole('button', { name: 'Revoke Build Bot' }).click();
        await page
          .getByRole('dialog', { name: 'Revoke Build Bot?' })
          .getByRole('button', { name: 'Revoke agent' })
          .click();
        await page
          .getByRole('region', { name: 'Denied and revoked' })
          .getByRole('heading', { name: 'Build Bot' })
          .waitFor();
        assert.equal(await agentStatus(agent.api_key), 401);
        await screenshot(page, 'agents');
        admin.assertClean();
      },
      'agents',
    ));

  it('an admin denies a pending agent: its key stops working', () =>
    screenshotOnFailure(
      [admin],
      async () => {
        const agent = await agentSignup('Sketchy Scraper', uniqueEmail('overseer'));
        const me = (await (await admin.context.request.get('/api/v1/me')).json()) as {
          user: { email: string };
        };
        await joinAsAdmin(agent.org_id, me.user.email);
        assert.equal(await agentStatus(agent.api_key), 200);

        await page.goto('/app/agents');
        await page.getByLabel('Organisation', { exact: true }).selectOption(agent.org_id);
        const card = page
          .getByRole('region', { name: 'Waiting for approval' })
          .getByRole('listitem')
          .filter({ hasText: 'Sketchy Scraper' });
        await card.getByRole('button', { name: 'Deny Sketchy Scraper' }).click();
        await page
          .getByRole('dialog', { name: 'Deny Sketchy Scraper?' })
          .getByRole('button', { name: 'Deny agent' })
          .click();
        await page
          .getByRole('region', { name: 'Denied and revoked' })
          .getByRole('heading', { name: 'Sketchy Scraper' })
          .waitFor();
        assert.equal(await agentStatus(agent.api_key), 401);
        await screenshot(page, 'agents-denied');
        admin.assertClean();
      },
      'agents',
    ));

  it('lists every agent the person oversees across orgs, whichever org is selected', () =>
    screenshotOnFailure(
      [admin],
      async () => {
        const me = (await (await admin.context.request.get('/api/v1/me')).json()) as {
          user: { email: string };
        };
        const first = await agentSignup('Docs Bot', uniqueEmail('overseer'));
        const second = await agentSignup('Triage Bot', uniqueEmail('overseer'));
        await joinAsAdmin(first.org_id, me.user.email);
        await joinAsAdmin(second.org_id, me.user.email);

        await page.goto('/app/agents');
        await page.getByLabel('Organisation', { exact: true }).selectOption(first.org_id);
        const pending = page.getByRole('region', { name: 'Waiting for approval' });
        // All my agents (the default): both, each in its own org.
        for (const name of ['Docs Bot', 'Triage Bot']) {
          const card = pending.getByRole('listitem').filter({ hasText: name });
          await card.getByText('Organisation').waitFor();
          await card.getByText(/mcp calls a day, .* guard runs a month/).waitFor();
        }
        await screenshot(page, 'agents-across-orgs');
        // Approving one from the list across orgs acts in its own org.
        await pending
          .getByRole('listitem')
          .filter({ hasText: 'Triage Bot' })
          .getByRole('button', { name: 'Approve Triage Bot' })
          .click();
        await page.getByText('Triage Bot was approved.').waitFor();
        assert.equal(await agentStatus(second.api_key), 200);
        const status = await fetch(`${lk.base}/api/v1/agent-signup/status`, {
          headers: { authorization: `Bearer ${second.api_key}` },
        });
        assert.equal(((await status.json()) as { claim_status: string }).claim_status, 'claimed');
        // This organisation only: the selected org's agent.
        await page.getByRole('button', { name: 'This organisation' }).click();
        await page.getByRole('heading', { name: 'Triage Bot' }).waitFor({ state: 'detached' });
        await pending.getByRole('heading', { name: 'Docs Bot' }).waitFor();
        admin.assertClean();
      },
      'agents',
    ));

  it('an org API key shows its requests a day', () =>
    screenshotOnFailure(
      [admin],
      async () => {
        const me = (await (await admin.context.request.get('/api/v1/me')).json()) as {
          orgs: { id: string; role: string }[];
        };
        const own = me.orgs.find((o) => o.role === 'owner')!;
        const minted = await admin.context.request.post('/api/v1/org/tokens', {
          data: { name: 'charted' },
          headers: { origin: lk.base, 'x-org-id': own.id },
        });
        // Unverified sign-ups cannot mint: the admin here proves nothing, so use break-glass.
        let key: { token: string };
        if (minted.status() === 201) key = (await minted.json()) as { token: string };
        else {
          const res = await fetch(`${lk.base}/api/v1/org/tokens`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${ADMIN_TOKEN}`,
              'x-org-id': own.id,
              'content-type': 'application/json',
            },
            body: JSON.stringify({ name: 'charted' }),
          });
          assert.equal(res.status, 201, await res.text());
          key = (await res.json()) as { token: string };
        }
        for (let i = 0; i < 3; i++) {
          const r = await fetch(`${lk.base}/api/v1/org`, {
            headers: { authorization: `Bearer ${key.token}` },
          });
          assert.equal(r.status, 200);
        }
        await usageCounterOf(lk.t.app)!.flush();
        await page.goto('/app/');
        await page.getByLabel('Organisation', { exact: true }).selectOption(own.id);
        await page.getByRole('link', { name: 'API tokens' }).click();
        await page.getByRole('tab', { name: 'Org API keys' }).click();
        const row = page.getByRole('row').filter({ hasText: 'charted' });
        await row.getByRole('img', { name: /charted: 3 requests in the last 30 days/ }).waitFor();
        await row.getByText('3 in 30 days').waitFor();
        await screenshot(page, 'org-key-usage');
        admin.assertClean();
      },
      'agents',
    ));
});
