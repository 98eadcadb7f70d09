import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DAY, manualClock } from '../../src/lib/clock.js';
import { INVITATIONS_PER_ORG_PER_HOUR } from '../../src/orgs/invitation-routes.js';
import {
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  readOutbox,
  type TestServer,
  testServer,
  tokenFrom,
  uniqueEmail,
} from '../helpers/harness.js';
import {
  acceptInvitation as accept,
  allPages,
  assertProblem,
  auditPage,
  type Invitation,
  inviteToken,
  pendingInvitations as pending,
  stranger,
  team,
} from './helpers.js';

// Making, listing, resending and revoking invitations. Accepting one
// (POST /api/v1/invitations/accept) is tested in test/joining/.

const clock = manualClock(new Date());
let t: TestServer;
before(async () => {
  t = await testServer({ clock });
});
after(() => t.close());

describe('creating invitations', () => {
  it('creates a pending invitation and mails a link to it', async () => {
    const owner = await stranger(t, 'Olive Owner');
    const email = uniqueEmail('invitee');
    const res = await owner.client.post('/api/v1/org/invitations', { email, role: 'billing' }, owner.org.id);
    assert.equal(res.statusCode, 201, res.body);
    const inv = res.json() as Invitation;
    assert.equal(inv.email, email);
    assert.equal(inv.role, 'billing');
    assert.equal(inv.status, 'pending');
    assert.equal(inv.invited_by, owner.id);
    assert.equal(inv.email_sent, true);
    assert.equal(Date.parse(inv.expires_at) - Date.parse(inv.created_at), 7 * DAY);
    assert.deepEqual(
      (await pending(owner.client, owner.org.id)).map((i) => i.id),
      [inv.id],
    );
    const mail = await lastMailTo(t.outboxDir, email);
    assert.match(mail.text, /Olive Owner invited you/);
    // The link carries a token (test/joining/ accepts with it).
    assert.ok(tokenFrom(linkIn(mail.text, `${PUBLIC_URL}/invite`)));
  });

  it('escapes the org and inviter names in the HTML part of the mail', async () => {
    const owner = await stranger(t, '<img src=x onerror=alert(2)>');
    const org = await owner.client.post('/api/v1/orgs', { name: '<script>alert(1)</script>' });
    assert.equal(org.statusCode, 201, org.body);
    const email = uniqueEmail('xss');
    await inviteToken(t, owner.client, org.json().id, email, 'member');
    const mail = await lastMailTo(t.outboxDir, email);
    assert.ok(!/<script/i.test(mail.html), 'no live script tag');
    assert.ok(!/<img/i.test(mail.html), 'no live img tag');
    assert.match(mail.html, /&#60;script&#62;alert\(1\)&#60;\/script&#62;/);
    assert.match(mail.html, /&#60;img src&#61;x onerror&#61;alert\(2\)&#62;/);
    assert.match(mail.text, /<script>alert\(1\)<\/script>/, 'plain text says the name as it is');
  });

  it('refuses a second open invitation for the same email (any case), until the first is revoked', async () => {
    const owner = await stranger(t);
    const email = uniqueEmail('dup');
    const first = await inviteToken(t, owner.client, owner.org.id, email, 'member');
    for (const again of [email, email.toUpperCase(), `  ${email}  `]) {
      assertProblem(
        await owner.client.post('/api/v1/org/invitations', { email: again, role: 'admin' }, owner.org.id),
        409,
        'conflict',
        again,
      );
    }
    assert.equal(
      (await owner.client.delete(`/api/v1/org/invitations/${first.id}`, owner.org.id)).statusCode,
      204,
    );
    const second = await owner.client.post('/api/v1/org/invitations', { email, role: 'admin' }, owner.org.id);
    assert.equal(second.statusCode, 201, second.body);
  });

  it('creates one invitation when two identical requests race (409 for the other, never 500)', async () => {
    const owner = await stranger(t);
    const email = uniqueEmail('race');
    const send = () => owner.client.post('/api/v1/org/invitations', { email, role: 'member' }, owner.org.id);
    const codes = (await Promise.all([send(), send(), send()])).map((r) => r.statusCode).sort();
    assert.deepEqual(codes, [201, 409, 409]);
    assert.equal((await pending(owner.client, owner.org.id)).length, 1);
  });

  it('refuses to invite someone who is already a member', async () => {
    const { org, people } = await team(t);
    for (const email of [people.member.email, people.owner.email.toUpperCase()]) {
      assertProblem(
        await people.admin.client.post('/api/v1/org/invitations', { email, role: 'admin' }, org.id),
        409,
        'conflict',
        email,
      );
    }
  });

  it('refuses malformed invitations', async () => {
    const owner = await stranger(t);
    for (const body of [
      { email: 'not-an-email', role: 'member' },
      { email: uniqueEmail(), role: 'root' },
      { email: uniqueEmail() },
      { email: uniqueEmail(), role: 'member', extra: 1 },
    ]) {
      assertProblem(
        await owner.client.post('/api/v1/org/invitations', body, owner.org.id),
        400,
        'invalid_request',
        JSON.stringify(body),
      );
    }
    assert.deepEqual(await pending(owner.client, owner.org.id), []);
  });

  it(`sends at most ${INVITATIONS_PER_ORG_PER_HOUR} invitations an hour per org (429 with Retry-After)`, async () => {
    const owner = await stranger(t);
    for (let i = 0; i < INVITATIONS_PER_ORG_PER_HOUR; i++) {
      const res = await owner.client.post(
        '/api/v1/org/invitations',
        { email: uniqueEmail(`bulk${i}`), role: 'member' },
        owner.org.id,
      );
      assert.equal(res.statusCode, 201, `#${i}: ${res.body}`);
    }
    const over = uniqueEmail('over');
    const res = await owner.client.post(
      '/api/v1/org/invitations',
      { email: over, role: 'member' },
      owner.org.id,
    );
    assertProblem(res, 429, 'rate_limited');
    assert.match(String(res.headers['retry-after']), /^[1-9][0-9]*$/);
    assert.ok(!(await pending(owner.client, owner.org.id)).some((i) => i.email === over));
    // Another org is not held back.
    const other = await stranger(t);
    assert.equal(
      (await other.client.post('/api/v1/org/invitations', { email: over, role: 'member' }, other.org.id))
        .statusCode,
      201,
    );
  });

  it('lets only an owner invite an owner (and resend such an invitation)', async () => {
    const { org, people } = await team(t);
    const refused = uniqueEmail('would-be-owner');
    assertProblem(
      await people.admin.client.post('/api/v1/org/invitations', { email: refused, role: 'owner' }, org.id),
      403,
      'forbidden',
    );
    assert.ok(
      !(await readOutbox(t.outboxDir)).some((m) => m.to === refused),
      'no mail for a refused invitation',
    );
    const email = uniqueEmail('co-owner');
    const inv = await inviteToken(t, people.owner.client, org.id, email, 'owner');
    assertProblem(
      await people.admin.client.post(`/api/v1/org/invitations/${inv.id}/resend`, undefined, org.id),
      403,
      'forbidden',
    );
    const admin = await people.admin.client.post(
      '/api/v1/org/invitations',
      { email: uniqueEmail(), role: 'admin' },
      org.id,
    );
    assert.equal(admin.statusCode, 201, 'an admin may invite an admin');
    const c = t.client();
    await c.signup({ email });
    assert.equal((await accept(c, inv.token)).json().org.role, 'owner');
  });
});

describe('revoking, resending and listing', () => {
  it('revokes: 204, then 404; the link is dead and the revocation audited', async () => {
    const owner = await stranger(t);
    const email = uniqueEmail('revoked');
    const inv = await inviteToken(t, owner.client, owner.org.id, email, 'member');
    assert.equal(
      (await owner.client.delete(`/api/v1/org/invitations/${inv.id}`, owner.org.id)).statusCode,
      204,
    );
    assertProblem(
      await owner.client.delete(`/api/v1/org/invitations/${inv.id}`, owner.org.id),
      404,
      'not_found',
    );
    assertProblem(
      await owner.client.post(`/api/v1/org/invitations/${inv.id}/resend`, undefined, owner.org.id),
      404,
      'not_found',
    );
    assertProblem(
      await owner.client.delete('/api/v1/org/invitations/nope', owner.org.id),
      400,
      'invalid_request',
    );
    assert.deepEqual(await pending(owner.client, owner.org.id), []);
    const c = t.client();
    await c.signup({ email });
    assertProblem(await accept(c, inv.token), 400, 'invalid_token');
    const [ev] = (await auditPage(owner.client, owner.org.id, 'action=invitation.revoked')).data;
    assert.equal(ev?.target, `invitation:${inv.id}`);
    assert.deepEqual(ev?.data, { email });
  });

  it('resend rotates the token and renews the expiry: the old link dies, the new one works', async () => {
    const { org, people } = await team(t);
    const email = uniqueEmail('resent');
    const inv = await inviteToken(t, people.owner.client, org.id, email, 'member');
    clock.advance(DAY);
    const res = await people.admin.client.post(`/api/v1/org/invitations/${inv.id}/resend`, undefined, org.id);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().id, inv.id);
    assert.equal(Date.parse(res.json().expires_at), clock.now().getTime() + 7 * DAY);
    const newToken = tokenFrom(linkIn((await lastMailTo(t.outboxDir, email)).text, `${PUBLIC_URL}/invite`));
    assert.notEqual(newToken, inv.token);
    const c = t.client();
    await c.signup({ email });
    assertProblem(await accept(c, inv.token), 400, 'invalid_token', 'old link');
    assert.equal((await accept(c, newToken)).statusCode, 200, 'new link');
    const [ev] = (await auditPage(people.owner.client, org.id, 'action=invitation.resent')).data;
    assert.equal(ev?.actor, `user:${people.admin.id}`);
  });

  it('lists pending invitations newest first, paginated, even when made in the same millisecond', async () => {
    const owner = await stranger(t);
    const ids: string[] = [];
    // The clock stands still: every invitation has the same created_at.
    for (let i = 0; i < 5; i++)
      ids.push((await inviteToken(t, owner.client, owner.org.id, uniqueEmail(`list${i}`), 'member')).id);
    const pages = await allPages<Invitation>(
      owner.client,
      '/api/v1/org/invitations',
      owner.org.id,
      'limit=2',
    );
    assert.deepEqual(
      pages.map((p) => p.length),
      [2, 2, 1],
    );
    assert.deepEqual(
      pages.flat().map((i) => i.id),
      [...ids].reverse(),
    );
    assertProblem(
      await owner.client.get('/api/v1/org/invitations?limit=501', owner.org.id),
      400,
      'invalid_request',
    );
    assertProblem(
      await owner.client.get('/api/v1/org/invitations?cursor=zzz', owner.org.id),
      400,
      'invalid_request',
    );
  });
});
