// test-backend: embedded — the subject is the dashboard in a browser, not storage
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type GoogleStandIn, setTxt, startGoogle } from '@latchkey/server/testing';
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

// Settings → SSO as an org owner, against a real node-oidc-provider on 127.0.0.1 (the server
// reaches it because SSO_ALLOW_LOOPBACK is on): add an OIDC connection, test it, enable it,
// add a domain and verify it by its DNS record (published in the test DNS server on loopback that
// the server resolves through), and turn enforcement on.

const PASSWORD = 'a sturdy passphrase 42';

let built: Awaited<ReturnType<typeof buildDashboard>>;
let lk: Latchkey;
let idp: GoogleStandIn;
let browser: Browser;
let owner: Watched;
let page: Page;
const email = uniqueEmail('sso-owner');
const domain = `acme-${process.pid}-${Date.now().toString(36)}.test`;

before(async () => {
  built = await buildDashboard();
  [lk, browser] = await Promise.all([
    startLatchkey(built.dir, { env: { SSO_ALLOW_LOOPBACK: 'true' } }),
    launchBrowser(),
  ]);
  idp = await startGoogle(`${lk.base}/api/sso/oidc/callback`);
  // Tall enough that the whole page fits: a full-page capture would repeat the sticky top bar.
  owner = await newContext(browser, lk.base, { viewport: { width: 1280, height: 1200 } });
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
  await idp?.stop();
  built?.remove();
});

const run = (name: string, fn: () => Promise<void>) =>
  it(name, () => screenshotOnFailure([owner], fn, 'sso'));

describe('Settings → SSO', () => {
  run('adds an OIDC connection, tests and enables it, verifies a domain and enforces SSO', async () => {
    await page.goto('/app/settings');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'SSO' }).click();
    await page.getByRole('heading', { name: 'Single sign-on', level: 1 }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/app/settings/sso');
    await page.getByText('No connections yet').waitFor();
    await page.getByText('No domains yet').waitFor();

    await page.getByRole('button', { name: 'Add connection' }).first().click();
    const add = page.getByRole('dialog', { name: 'Add an SSO connection' });
    await add.getByLabel('Name', { exact: true }).fill('Acme IdP');
    await add.getByLabel('Issuer URL').fill(idp.issuer);
    await add.getByLabel('Client ID').fill(idp.clientId);
    await add.getByLabel('Client secret').fill(idp.clientSecret);
    await add.getByRole('button', { name: 'Add connection' }).click();
    await add.waitFor({ state: 'detached' });

    const setup = page.getByRole('dialog', { name: 'Set up Acme IdP in your identity provider' });
    assert.equal(
      await setup.getByLabel('Redirect URI', { exact: true }).inputValue(),
      `${lk.base}/api/sso/oidc/callback`,
    );
    await setup.getByRole('button', { name: 'Done' }).click();
    await setup.waitFor({ state: 'detached' });

    const row = page.getByRole('row', { name: /Acme IdP/ });
    await row.getByText('Not tested yet').waitFor();
    assert.equal(await row.getByText('Disabled', { exact: true }).count(), 1);
    const enable = row.getByRole('button', { name: 'Enable Acme IdP' });
    assert.equal(await enable.isDisabled(), true, 'enabling waits for a passing test');

    await row.getByRole('button', { name: 'Test connection Acme IdP' }).click();
    await page.getByText('The test of Acme IdP passed.').waitFor();
    await row.getByText('Passed', { exact: true }).waitFor();
    await row.getByText(`discovery answered for ${idp.issuer}`).waitFor();

    await enable.click();
    await page.getByText('Acme IdP is enabled: members can sign in with it.').waitFor();
    await row.getByRole('button', { name: 'Disable Acme IdP' }).waitFor();
    assert.equal(await row.getByText('Enabled', { exact: true }).count(), 1);

    await page.getByLabel('Domain', { exact: true }).fill(domain);
    await page.getByRole('button', { name: 'Add domain' }).click();
    const domainRow = page.getByRole('row', { name: new RegExp(domain.replace(/\./g, '\\.')) });
    await domainRow.getByText('Not verified').waitFor();
    // The page shows the record the API returned for the domain; that is what gets published.
    const recordName = await page.getByLabel(`TXT record name for ${domain}`, { exact: true }).inputValue();
    const recordValue = await page.getByLabel(`TXT record value for ${domain}`, { exact: true }).inputValue();
    const orgId = (
      (await (await owner.context.request.get('/api/v1/me')).json()) as { orgs: { id: string }[] }
    ).orgs[0]!.id;
    const listed = (await (
      await owner.context.request.get('/api/v1/org/sso/domains', { headers: { 'x-org-id': orgId } })
    ).json()) as { data: { domain: string; challenge: { name: string; value: string } | null }[] };
    const challenge = listed.data.find((d) => d.domain === domain)?.challenge;
    assert.deepEqual(challenge && { name: challenge.name, value: challenge.value }, {
      name: recordName,
      value: recordValue,
    });
    assert.equal(recordName, `_latchkey-challenge.${domain}`);
    // Checking before the record is published says what is missing and verifies nothing.
    owner.allow.push(/status of 400 .*\/api\/v1\/org\/sso\/domains\/.*\/verify/);
    await domainRow.getByRole('button', { name: `Check DNS for ${domain}` }).click();
    await page.getByText(`No TXT record at ${recordName}`).waitFor();
    await domainRow.getByText('Not verified').waitFor();
    owner.allow.pop();
    setTxt(challenge!.name, [challenge!.value]);
    await domainRow.getByRole('button', { name: `Check DNS for ${domain}` }).click();
    await page.getByText(`${domain} is verified.`).waitFor();
    await domainRow.getByText('Verified', { exact: true }).waitFor();

    await page.getByLabel('Require SSO for members').check();
    await page.getByLabel('Status page URL (optional)').fill('https://status.example.com/');
    await page.getByRole('button', { name: 'Save SSO settings' }).click();
    await page.getByText('SSO settings saved. Members must sign in with SSO.').waitFor();
    await page.getByText('SSO is enforced: members sign in only through an enabled connection.').waitFor();

    // What the API now says matches what the page shows.
    const me = await (await owner.context.request.get('/api/v1/me')).json();
    const headers = { 'x-org-id': me.orgs[0].id as string };
    const conns = await owner.context.request.get('/api/v1/org/sso/connections', { headers });
    const [conn] = (await conns.json()).data;
    assert.equal(conn.enabled, true);
    assert.equal(conn.test.result, 'pass');
    const settings = await (await owner.context.request.get('/api/v1/org/sso', { headers })).json();
    assert.deepEqual(settings, {
      sso_enforced: true,
      status_page_url: 'https://status.example.com/',
      enforcement_active: true,
      jit_provisioning: true,
    });

    await screenshot(page, 'sso');
    owner.assertClean();
  });

  run('deletes a connection after a confirm dialog', async () => {
    await page.getByRole('button', { name: 'Delete Acme IdP' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete Acme IdP?' });
    await confirm.getByText('SSO is no longer enforced', { exact: false }).waitFor();
    await screenshot(page, 'sso-delete-confirm');
    await confirm.getByRole('button', { name: 'Delete connection' }).click();
    await confirm.waitFor({ state: 'detached' });
    await page.getByText('Acme IdP was deleted.').waitFor();
    await page.getByText('No connections yet').waitFor();
    owner.assertClean();
  });
});
