import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readOutbox, type TestServer, testServer, uniqueEmail } from '../../helpers/harness.js';
import { Browser } from '../../helpers/browser.js';
import { userByEmail } from './helpers.js';
import { type GithubStandIn, githubUser, startGithub } from '../../helpers/stand-ins/github.js';

// A GitHub sign-in from a browser the account does not know is audited and mailed, like any other.

let gh: GithubStandIn;
let t: TestServer;
before(async () => {
  gh = await startGithub();
  t = await testServer({ env: gh.env() });
});
after(async () => {
  await t.close();
  await gh.close();
});

async function newDeviceEvents(userId: string) {
  return t.deps.db
    .selectFrom('audit_events')
    .select(['data', 'org_id'])
    .where('action', '=', 'user.new_device_signin')
    .where('target', '=', `user:${userId}`)
    .execute();
}

describe('GitHub sign-in from a new device', () => {
  it('the sign-up and the same browser are not news; a second browser is', async () => {
    const email = uniqueEmail('octo-device');
    gh.next = githubUser(email, true);
    const home = new Browser(t);
    assert.equal((await home.signInWith('github')).statusCode, 303);
    assert.ok(home.cookie('lk_device'), 'the browser keeps a device cookie');
    const user = (await userByEmail(t, email))!;
    assert.equal((await newDeviceEvents(user.id)).length, 0, 'a sign-up is not news');

    assert.equal((await home.signInWith('github')).statusCode, 303);
    assert.equal((await newDeviceEvents(user.id)).length, 0, 'the same browser again is not news');

    const away = new Browser(t);
    assert.equal((await away.signInWith('github')).statusCode, 303);
    const events = await newDeviceEvents(user.id);
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.data, {
      method: 'github',
      ip: away.ip,
      user_agent: (events[0]!.data as Record<string, unknown>).user_agent,
    });
    assert.equal(events[0]!.org_id, null);
    const mails = (await readOutbox(t.outboxDir)).filter(
      (m) => m.to === email && m.subject === 'New sign-in to your Latchkey account',
    );
    assert.equal(mails.length, 1);
    assert.match(mails[0]!.text, /Signed in with: GitHub/);
    assert.ok(!mails[0]!.text.includes(away.cookie('lk_device')!), 'the mail holds no device cookie');
  });
});
