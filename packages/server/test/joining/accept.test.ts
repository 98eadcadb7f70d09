import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DAY, manualClock } from '../../src/lib/clock.js';
import { type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import {
  acceptInvitation as accept,
  assertProblem,
  auditPage,
  inviteToken,
  join,
  type Page,
  pendingInvitations as pending,
  stranger,
} from '../orgs/helpers.js';

// POST /api/v1/invitations/accept: the signed-in person joins the org whose invitation they hold.
// Making, listing, resending and revoking invitations are tested in test/orgs/invitations.test.ts.

const clock = manualClock(new Date());
let t: TestServer;
before(async () => {
  t = await testServer({ clock });
});
after(() => t.close());

describe('accepting an invitation', () => {
  it('the invitee joins with the invited role; the invitation is no longer pending, and the acceptance is audited', async () => {
    const owner = await stranger(t, 'Olive Owner');
    const email = uniqueEmail('invitee');
    const inv = await inviteToken(t, owner.client, owner.org.id, email, 'billing');
    assert.deepEqual(
      (await pending(owner.client, owner.org.id)).map((i) => i.id),
      [inv.id],
    );
    const invitee = t.client();
    const { user } = await invitee.signup({ email });
    const ok = await accept(invitee, inv.token);
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json().org, {
      id: owner.org.id,
      slug: owner.org.slug,
      name: ok.json().org.name,
      role: 'billing',
    });
    assert.equal((await invitee.get('/api/v1/me', owner.org.id)).json().org.role, 'billing');
    assert.deepEqual(
      await pending(owner.client, owner.org.id),
      [],
      'accepted invitations are no longer pending',
    );
    const [ev] = (await auditPage(owner.client, owner.org.id, 'action=invitation.accepted')).data;
    assert.equal(ev?.actor, `user:${user.id}`);
    assert.deepEqual(ev?.data, { invitation_id: inv.id, role: 'billing' });
  });

  it('is an invitation for this org only: a member of another org joins just this one', async () => {
    const a = await stranger(t, 'A');
    const b = await stranger(t, 'B');
    const joined = await join(t, a.client, a.org.id, 'admin');
    // The same person is later invited to B, and accepting does not change their role in A.
    const { token } = await inviteToken(t, b.client, b.org.id, joined.email, 'billing');
    assert.equal((await accept(joined.client, token)).statusCode, 200);
    assert.equal((await joined.client.get('/api/v1/me', a.org.id)).json().org.role, 'admin');
    assert.equal((await joined.client.get('/api/v1/me', b.org.id)).json().org.role, 'billing');
  });
});

describe('who may accept, and how often', () => {
  it('refuses an account with another email (403), and the invitation stays usable', async () => {
    const owner = await stranger(t);
    const email = uniqueEmail('right');
    const { token } = await inviteToken(t, owner.client, owner.org.id, email, 'member');
    const wrong = await stranger(t, 'Wrong');
    assertProblem(await accept(wrong.client, token), 403, 'forbidden');
    assertProblem(await wrong.client.get('/api/v1/org', owner.org.id), 403, 'org_forbidden');
    const right = t.client();
    await right.signup({ email });
    assert.equal((await accept(right, token)).statusCode, 200);
  });

  it('is single use: a second accept fails, even when both race', async () => {
    const owner = await stranger(t);
    const email = uniqueEmail('once');
    const { token } = await inviteToken(t, owner.client, owner.org.id, email, 'member');
    const c = t.client();
    await c.signup({ email });
    assert.equal((await accept(c, token)).statusCode, 200);
    assertProblem(await accept(c, token), 400, 'invalid_token');

    const email2 = uniqueEmail('race');
    const second = await inviteToken(t, owner.client, owner.org.id, email2, 'admin');
    const d = t.client();
    await d.signup({ email: email2 });
    const both = await Promise.all([accept(d, second.token), accept(d, second.token)]);
    assert.deepEqual(both.map((r) => r.statusCode).sort(), [200, 400], both.map((r) => r.body).join(' '));
    const members = (await owner.client.get('/api/v1/org/members', owner.org.id)).json() as Page<{
      email: string;
    }>;
    assert.equal(members.data.filter((m) => m.email === email2).length, 1);
  });

  it('needs a signed-in person, and rejects a made-up token', async () => {
    assert.equal(
      (await t.client().post('/api/v1/invitations/accept', { token: 'x'.repeat(43) })).statusCode,
      401,
    );
    const c = (await stranger(t)).client;
    assertProblem(await accept(c, 'x'.repeat(43)), 400, 'invalid_token');
    assertProblem(await c.post('/api/v1/invitations/accept', {}), 400, 'invalid_request');
  });

  it('expires after 7 days', async () => {
    const owner = await stranger(t);
    const email = uniqueEmail('late');
    const { token } = await inviteToken(t, owner.client, owner.org.id, email, 'member');
    const c = t.client();
    await c.signup({ email });
    clock.advance(7 * DAY - 1);
    assert.equal((await pending(owner.client, owner.org.id)).length, 1, 'still pending just before');
    clock.advance(2);
    assertProblem(await accept(c, token), 400, 'invalid_token');
    assert.deepEqual(await pending(owner.client, owner.org.id), [], 'no longer pending');
    assertProblem(await c.get('/api/v1/org', owner.org.id), 403, 'org_forbidden');
    // The expired one does not block a new invitation, which works.
    const fresh = await inviteToken(t, owner.client, owner.org.id, email, 'member');
    assert.equal((await accept(c, fresh.token)).statusCode, 200);
  });

  it('dies with its org', async () => {
    const owner = await stranger(t);
    const email = uniqueEmail('orphan');
    const { token } = await inviteToken(t, owner.client, owner.org.id, email, 'member');
    assert.equal((await owner.client.delete('/api/v1/org', owner.org.id)).statusCode, 204);
    const c = t.client();
    await c.signup({ email });
    assertProblem(await accept(c, token), 400, 'invalid_token');
  });
});
