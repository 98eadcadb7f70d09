import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAccount } from '../../../src/accounts/users.js';
import { sha256Hex } from '../../../src/lib/secrets.js';
import {
  type Client,
  DEFAULT_PASSWORD,
  followLink,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  type TestServer,
  testServer,
  tokenFrom,
  uniqueEmail,
} from '../../helpers/harness.js';
import { Browser, loginError } from '../../helpers/browser.js';
import { state } from '../social/helpers.js';
import { type GithubStandIn, githubUser, startGithub } from '../../helpers/stand-ins/github.js';
import { googleAccount, type GoogleStandIn, startGoogle } from '../../helpers/stand-ins/google.js';
import { firstOwner, postForm, setPolicy, auditText } from './helpers.js';

// Every way an account can be created, under each sign-up policy: password, magic link, GitHub,
// Google, the agent overseer account (the createAccount call agent signup makes), and an
// invitation. A refusal creates nothing; under `waitlist` the request is stored and its email
// appears in the audit log only as a SHA-256.

type Policy = 'open' | 'invite-only' | 'waitlist';
type Outcome = 'created' | 'refused' | 'waitlisted';

let gh: GithubStandIn;
let google: GoogleStandIn;
let t: TestServer;
let admin: Client;
const waitlisted: string[] = [];

before(async () => {
  gh = await startGithub();
  google = await startGoogle(`${PUBLIC_URL}/api/auth/oauth/google/callback`);
  t = await testServer({ env: { ...gh.env(), ...google.env() } });
  admin = (await firstOwner(t)).client;
});
after(async () => {
  await t.close();
  await gh.close();
  await google.stop();
});

async function exists(email: string) {
  return (
    (await t.deps.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst()) !==
    undefined
  );
}

async function magicLink(email: string) {
  const c = t.client();
  assert.equal((await c.post('/api/auth/magic-link', { email })).statusCode, 202);
  const link = linkIn(
    (await lastMailTo(t.outboxDir, email)).text,
    `${PUBLIC_URL}/api/auth/magic-link/callback`,
  );
  return followLink(c, link);
}

/** Each path: tries to create an account for `email`, and says what happened. */
const PATHS: Record<string, (email: string) => Promise<Outcome>> = {
  async password(email) {
    const res = await t.client().post('/api/auth/signup', { email, password: DEFAULT_PASSWORD, name: 'P' });
    if (res.statusCode === 201) return 'created';
    if (res.statusCode === 202 && res.json().status === 'waitlisted') return 'waitlisted';
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(res.json().code, 'signup_closed');
    assert.equal(res.json().policy, 'invite-only');
    return 'refused';
  },
  async magic_link(email) {
    const res = await magicLink(email);
    if (res.statusCode === 303) return 'created';
    if (res.statusCode === 202) {
      assert.match(res.body, /on the waitlist/);
      return 'waitlisted';
    }
    assert.equal(res.statusCode, 403, res.body);
    assert.match(res.body, /by invitation only/);
    return 'refused';
  },
  async github(email) {
    gh.next = githubUser(email);
    const res = await new Browser(t).signInWith('github');
    const error = loginError(res);
    if (error === null) return 'created';
    if (error === 'waitlisted') return 'waitlisted';
    assert.equal(error, 'signup_closed');
    return 'refused';
  },
  async google(email) {
    google.next = googleAccount(email);
    const error = loginError(await new Browser(t).signInWith('google'));
    if (error === null) return 'created';
    if (error === 'waitlisted') return 'waitlisted';
    assert.equal(error, 'signup_closed');
    return 'refused';
  },
  async agent_overseer(email) {
    // What agent signup does when the human it names has no account yet.
    try {
      await t.deps.db.transaction().execute((trx) =>
        createAccount(
          trx,
          t.deps.clock,
          { actor: 'agent:test', ip: null, userAgent: null },
          {
            email,
            name: 'Overseer',
            passwordHash: null,
            emailVerified: false,
            via: 'agent_signup',
          },
        ),
      );
      return 'created';
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'signup_closed');
      return 'refused';
    }
  },
};

const EXPECTED: Record<Policy, Record<string, Outcome>> = {
  open: {
    password: 'created',
    magic_link: 'created',
    github: 'created',
    google: 'created',
    agent_overseer: 'created',
  },
  'invite-only': {
    password: 'refused',
    magic_link: 'refused',
    github: 'refused',
    google: 'refused',
    agent_overseer: 'refused',
  },
  waitlist: {
    password: 'waitlisted',
    magic_link: 'waitlisted',
    github: 'waitlisted',
    google: 'waitlisted',
    agent_overseer: 'refused',
  },
};

for (const policy of ['open', 'invite-only', 'waitlist'] as const) {
  describe(`policy ${policy}`, () => {
    before(() => setPolicy(admin, policy));

    for (const [path, attempt] of Object.entries(PATHS)) {
      it(`${path}: ${EXPECTED[policy][path]}`, async () => {
        const email = uniqueEmail(`${path.replace('_', '-')}-${policy}`);
        const before0 = await state(t);
        const outcome = await attempt(email);
        assert.equal(outcome, EXPECTED[policy][path]);
        assert.equal(await exists(email), outcome === 'created');
        if (outcome !== 'created') {
          // (The magic link itself is used up: that is the one change a refused link makes.)
          const pick = (x: typeof before0) => [x.users, x.orgs, x.memberships, x.live_sessions, x.identities];
          const now = await state(t);
          assert.deepEqual(pick(now), pick(before0), 'nothing half-created');
          assert.equal(now.waitlist - before0.waitlist, outcome === 'waitlisted' ? 1 : 0);
        }
        if (outcome === 'waitlisted') waitlisted.push(email);
      });
    }

    it('an invitation creates the account from its page, and admits the invited email on the other verified paths', async () => {
      const inviter = t.client();
      await setPolicy(admin, 'open');
      const { org } = await inviter.signup();
      await setPolicy(admin, policy);
      const invite = async (email: string) => {
        assert.equal(
          (await inviter.post('/api/v1/org/invitations', { email, role: 'member' }, org.id)).statusCode,
          201,
        );
        return tokenFrom(linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/invite`));
      };
      const viaPage = uniqueEmail(`invited-page-${policy}`);
      const token = await invite(viaPage);
      const c = t.client();
      assert.equal(
        (await postForm(c, '/invite', { token, name: 'Invited', password: DEFAULT_PASSWORD })).statusCode,
        303,
      );
      assert.equal((await c.get('/api/v1/me', org.id)).json().org.role, 'member');
      for (const path of ['magic_link', 'github', 'google']) {
        const email = uniqueEmail(`invited-${path.replace('_', '-')}-${policy}`);
        await invite(email);
        assert.equal(await PATHS[path]!(email), 'created', path);
      }
      // An unverified email does not count as holding the invitation.
      const squat = uniqueEmail(`invited-password-${policy}`);
      await invite(squat);
      assert.equal(await PATHS.password!(squat), EXPECTED[policy].password);
    });

    it('existing accounts still sign in every way', async () => {
      await setPolicy(admin, 'open');
      const email = uniqueEmail(`existing-${policy}`);
      await t.client().signup({ email });
      const ghUser = githubUser(uniqueEmail(`existing-gh-${policy}`));
      gh.next = ghUser;
      assert.equal(loginError(await new Browser(t).signInWith('github')), null);
      await setPolicy(admin, policy);
      assert.equal(
        (await t.client().post('/api/auth/signin', { email, password: DEFAULT_PASSWORD })).statusCode,
        200,
      );
      assert.equal((await magicLink(email)).statusCode, 303);
      gh.next = ghUser;
      assert.equal(loginError(await new Browser(t).signInWith('github')), null);
    });
  });
}

describe('waitlist approvals and the audit log', () => {
  it('an approved email may create its account through a verified provider too', async () => {
    await setPolicy(admin, 'waitlist');
    const email = uniqueEmail('approved-google');
    assert.equal(await PATHS.google!(email), 'waitlisted');
    waitlisted.push(email);
    const entry = (await admin.get('/api/v1/admin/waitlist?status=pending&limit=500'))
      .json()
      .data.find((e: { email: string }) => e.email === email);
    assert.equal(entry.via, 'google');
    assert.equal((await admin.post(`/api/v1/admin/waitlist/${entry.id}/approve`)).statusCode, 200);
    assert.equal(await PATHS.google!(email), 'created');
    const after0 = (await admin.get('/api/v1/admin/waitlist?status=approved&limit=500'))
      .json()
      .data.find((e: { id: string }) => e.id === entry.id);
    assert.ok(after0.joined_at, 'the approval is used up');
  });

  it('waitlisted emails never appear in clear in the audit log (or the server log); their hashes do', async () => {
    assert.ok(waitlisted.length >= 5, `only ${waitlisted.length} waitlisted`);
    // Decide a few, so approvals and denials are on the record too.
    const pending = (await admin.get('/api/v1/admin/waitlist?status=pending&limit=500')).json().data;
    await admin.post(`/api/v1/admin/waitlist/${pending[0].id}/approve`);
    await admin.post(`/api/v1/admin/waitlist/${pending[1].id}/deny`);
    const text = await auditText(t);
    const logs = t.logs.join('\n');
    for (const email of waitlisted) {
      assert.ok(!text.includes(email), `${email} in the audit log`);
      assert.ok(!logs.includes(email), `${email} in the server log`);
      assert.ok(text.includes(sha256Hex(email)), `no hash of ${email}`);
    }
    const actions = await t.deps.db
      .selectFrom('audit_events')
      .select('action')
      .where('action', 'like', 'waitlist.%')
      .execute();
    const kinds = new Set(actions.map((a) => a.action));
    assert.deepEqual([...kinds].sort(), ['waitlist.approved', 'waitlist.denied', 'waitlist.requested']);
  });
});
