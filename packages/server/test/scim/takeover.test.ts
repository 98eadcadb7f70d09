import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Client, readOutbox, type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';
import { assertProblem, inviteToken, rolesIn, stranger } from '../orgs/helpers.js';
import {
  acceptScimInvitation,
  assertScimError,
  auditRows,
  Idp,
  invitationTokenFor,
  list,
  mintScimToken,
  type ScimUser,
  scimOrg,
  USER,
} from './helpers.js';

// Issue 14, step 2 of the attack: anyone signs up, mints a SCIM secret in their own org and POSTs
// a stranger's address to /Users. SCIM must never pull an account it does not own into the org,
// show it, or change it: outside the org's verified domains the person gets an invitation and the
// record stays pending (active false) until they accept it.

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

interface Account {
  id: string;
  email: string;
  name: string;
  email_verified_at: Date | null;
}

async function account(id: string): Promise<Account> {
  return t.deps.db
    .selectFrom('users')
    .select(['id', 'email', 'name', 'email_verified_at'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

async function orgsOf(c: Client): Promise<string[]> {
  const me = await c.get('/api/v1/me');
  assert.equal(me.statusCode, 200, me.body);
  return (me.json() as { orgs: { id: string }[] }).orgs.map((o) => o.id);
}

/** How many invitations were mailed to `email` (other mail, such as sign-up's, is not counted). */
async function mailsTo(email: string): Promise<number> {
  return (await readOutbox(t.outboxDir)).filter(
    (m) => m.to === email && /^Invitation to join /.test(m.subject),
  ).length;
}

/** Someone who signed up on their own: their own account, name and personal org (`verify`: the sign-up link used). */
async function victim(tag: string, email = uniqueEmail(tag), verify = true) {
  const client = t.client();
  const { user, org } = await client.signup({ email, name: 'Victim Own Name', verify });
  return { client, id: user.id, email: user.email, org };
}

/** An attacker: signs up, owns a personal org, mints that org's SCIM secret. */
async function attacker() {
  const a = await stranger(t, 'Attacker');
  return { ...a, idp: new Idp(t, await mintScimToken(a.client, a.org.id)) };
}

describe('SCIM on an address outside the org’s verified domains (the takeover attempt)', () => {
  it('POST /Users of a victim’s email → 201 active:false; no membership, nothing of the account shown; the victim is mailed an invitation', async () => {
    const v = await victim('ceo');
    const a = await attacker();
    const res = await a.idp.post('/Users', {
      schemas: [USER],
      userName: v.email,
      name: { givenName: 'Sent', familyName: 'ByAttacker' },
      externalId: 'attacker-1',
      active: true,
    });
    assert.equal(res.statusCode, 201, res.body);
    const u = res.json() as ScimUser;
    assert.equal(u.active, false, 'pending until the person accepts');
    assert.equal(u['urn:latchkey:params:scim:schemas:extension:latchkey:2.0:User']?.role, null);

    // The victim is not a member, and the attacker's member list does not show them.
    assert.ok(!(await orgsOf(v.client)).includes(a.org.id));
    const members = await a.client.get('/api/v1/org/members?limit=500', a.org.id);
    assert.equal(members.statusCode, 200);
    assert.ok(!members.body.includes(v.email) && !members.body.includes(v.id));
    assert.equal((await rolesIn(a.client, a.org.id))[v.id], undefined);

    // The resource holds only what the attacker sent — never the account's name or id.
    const got = await a.idp.get(`/Users/${u.id}`);
    assert.equal(got.statusCode, 200);
    assert.ok(!got.body.includes('Victim Own Name') && !got.body.includes(v.id), got.body);
    const shown = got.json() as ScimUser;
    assert.equal(shown.userName, v.email);
    assert.deepEqual(shown.name, { givenName: 'Sent', familyName: 'ByAttacker' });
    assert.equal(shown.active, false);
    const found = list<ScimUser>(await a.idp.filter('Users', `userName eq "${v.email}"`));
    assert.equal(found.totalResults, 1);
    assert.ok(!JSON.stringify(found).includes('Victim Own Name'));

    // Nothing in the attacker's org points at the victim's account.
    const linked = await t.deps.db
      .selectFrom('scim_users')
      .select(['user_id', 'invitation_id'])
      .where('id', '=', u.id)
      .executeTakeFirstOrThrow();
    assert.equal(linked.user_id, null);
    assert.ok(linked.invitation_id);
    assert.ok(!(await auditRows(t, a.org.id)).some((r) => r.target === `user:${v.id}`));

    // The victim got an invitation mail from the attacker's org; the account is as it was.
    assert.equal(await mailsTo(v.email), 1);
    const acct = await account(v.id);
    assert.equal(acct.name, 'Victim Own Name');
    assert.equal(acct.email, v.email);

    // PATCH / PUT of the pending record change the org's record only.
    const patched = await a.idp.patch(`/Users/${u.id}`, [
      { op: 'replace', path: 'displayName', value: 'Renamed By Attacker' },
      { op: 'replace', path: 'name.givenName', value: 'Changed' },
    ]);
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal((patched.json() as ScimUser).active, false);
    assert.equal((await account(v.id)).name, 'Victim Own Name');
  });

  it('accepting the invitation makes them a member and the resource active:true, linked to their account', async () => {
    const v = await victim('accepts');
    const a = await attacker();
    const u = await a.idp.createUser(v.email, { name: { givenName: 'Org', familyName: 'View' } });
    assert.equal(u.active, false);
    const joined = await acceptScimInvitation(t, v.client, v.email);
    assert.equal(joined, a.org.id);
    assert.ok((await orgsOf(v.client)).includes(a.org.id));
    assert.equal((await rolesIn(a.client, a.org.id))[v.id], 'member');

    const now = (await a.idp.get(`/Users/${u.id}`)).json() as ScimUser;
    assert.equal(now.active, true);
    assert.equal(now['urn:latchkey:params:scim:schemas:extension:latchkey:2.0:User']?.role, 'member');
    assert.notEqual(now.meta.version, u.meta.version);
    const row = await t.deps.db
      .selectFrom('scim_users')
      .select(['user_id', 'invitation_id'])
      .where('id', '=', u.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { user_id: v.id, invitation_id: null });
    const link = (await auditRows(t, a.org.id)).find((r) => r.action === 'scim.user_linked');
    assert.equal(link?.target, `user:${v.id}`);
    assert.equal((link?.data as { via: string }).via, 'invitation');

    // The person's own name changes never reach the org's SCIM view.
    const renamed = await v.client.patch('/api/v1/me', { name: 'Private New Name' });
    assert.equal(renamed.statusCode, 200, renamed.body);
    const after = await a.idp.get(`/Users/${u.id}`);
    assert.ok(!after.body.includes('Private New Name'), after.body);
    assert.deepEqual((after.json() as ScimUser).name, { givenName: 'Org', familyName: 'View' });

    // Deprovisioning removes only the membership.
    const off = await a.idp.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'active', value: false }]);
    assert.equal(off.statusCode, 200, off.body);
    assert.ok(!(await orgsOf(v.client)).includes(a.org.id));
    assert.equal((await account(v.id)).name, 'Private New Name');
    assert.equal((await v.client.get('/api/v1/org', v.org.id)).statusCode, 200);
  });

  it('PUT and PATCH of an account outside the domains never write its name or email', async () => {
    const v = await victim('putpatch');
    const a = await attacker();
    const u = await a.idp.createUser(v.email);
    await acceptScimInvitation(t, v.client, v.email);
    const before = await account(v.id);
    const other = uniqueEmail('elsewhere');
    const put = await a.idp.put(`/Users/${u.id}`, {
      schemas: [USER],
      userName: other,
      displayName: 'Put By Org',
      name: { givenName: 'Put', familyName: 'ByOrg' },
      emails: [{ value: other, type: 'work', primary: true }],
    });
    assert.equal(put.statusCode, 200, put.body);
    const shown = put.json() as ScimUser;
    assert.equal(shown.userName, other, "the org's own record follows its IdP");
    assert.equal(shown.active, true, 'PUT without active leaves the membership');
    const patch = await a.idp.patch(`/Users/${u.id}`, [
      { op: 'replace', path: 'userName', value: uniqueEmail('again') },
      { op: 'replace', path: 'displayName', value: 'Patched By Org' },
    ]);
    assert.equal(patch.statusCode, 200, patch.body);
    const after = await account(v.id);
    assert.deepEqual(after, before, 'the users row is untouched');
    assert.equal((await rolesIn(a.client, a.org.id))[v.id], 'member');
    // The person still signs in as themselves at their own address.
    assert.equal((await v.client.get('/api/v1/me')).json().user.email, v.email);
  });

  it('deactivating or deleting a pending user revokes the invitation; re-provisioning is idempotent', async () => {
    const v = await victim('pending');
    const a = await attacker();
    const u = await a.idp.createUser(v.email);
    assert.equal(await mailsTo(v.email), 1);
    const first = await invitationTokenFor(t, v.email);

    // The same userName again: 409, and no second mail.
    assertScimError(await a.idp.post('/Users', { schemas: [USER], userName: v.email }), 409, 'uniqueness');
    // Restating active:true (Okta does) keeps the open invitation: no second mail.
    const again = await a.idp.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'active', value: true }]);
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(await mailsTo(v.email), 1);

    const off = await a.idp.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'active', value: false }]);
    assert.equal(off.statusCode, 200, off.body);
    assertProblem(
      await v.client.post('/api/v1/invitations/accept', { token: first }),
      400,
      'invalid_token',
      'the withdrawn invitation no longer works',
    );
    const invitations = await a.client.get('/api/v1/org/invitations', a.org.id);
    assert.ok(!invitations.body.includes(v.email), 'no pending invitation is listed');

    // Reactivation invites afresh (once).
    const on = await a.idp.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'active', value: true }]);
    assert.equal(on.statusCode, 200, on.body);
    assert.equal((on.json() as ScimUser).active, false);
    assert.equal(await mailsTo(v.email), 2);
    const second = await invitationTokenFor(t, v.email);
    assert.notEqual(second, first);

    // DELETE revokes it too.
    assert.equal((await a.idp.delete(`/Users/${u.id}`)).statusCode, 204);
    assertProblem(await v.client.post('/api/v1/invitations/accept', { token: second }), 400, 'invalid_token');
    assert.ok(!(await orgsOf(v.client)).includes(a.org.id));
    const actions = (await auditRows(t, a.org.id)).filter((r) => r.actor === 'scim').map((r) => r.action);
    assert.equal(actions.filter((x) => x === 'invitation.revoked').length, 2);
  });

  it('a user created inactive is pending with no invitation until active=true', async () => {
    const v = await victim('inactive');
    const a = await attacker();
    const u = await a.idp.createUser(v.email, { active: false });
    assert.equal(u.active, false);
    assert.equal(await mailsTo(v.email), 0);
    await a.idp.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'active', value: true }]);
    assert.equal(await mailsTo(v.email), 1);
  });
});

describe('SCIM in the org’s verified domains', () => {
  it('links an existing account whose address is proven, audited on the account’s own trail', async () => {
    const s = await scimOrg(t, 'Domain Owner');
    const email = s.idp.email('proven');
    const p = await victim('proven', email);
    // The person proves their address (again) by accepting an invitation mailed to it (another org's).
    const other = await stranger(t, 'Other Org');
    const { token } = await inviteToken(t, other.client, other.org.id, email, 'member');
    assert.equal((await p.client.post('/api/v1/invitations/accept', { token })).statusCode, 200);
    assert.ok((await account(p.id)).email_verified_at);

    const u = await s.idp.createUser(email);
    assert.equal(u.active, true, 'linked at once: the org owns the domain and the person proved the address');
    assert.equal((await rolesIn(s.owner.client, s.owner.org.id))[p.id], 'member');
    const link = await t.deps.db
      .selectFrom('audit_events')
      .select(['action', 'org_id', 'data'])
      .where('target', '=', `user:${p.id}`)
      .where('action', '=', 'scim.user_linked')
      .executeTakeFirst();
    assert.equal(link?.org_id, s.owner.org.id);
    assert.equal((link?.data as { via: string }).via, 'verified_domain');
    assert.equal((await account(p.id)).name, 'Victim Own Name', 'the account is linked, not changed');
  });

  it('creates an account, its address verified, for a new person at the domain', async () => {
    const s = await scimOrg(t, 'Creating Owner');
    const email = s.idp.email('newhire');
    const u = await s.idp.createUser(email);
    assert.equal(u.active, true);
    const acct = await t.deps.db
      .selectFrom('users')
      .select(['id', 'email_verified_at', 'password_hash'])
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    assert.ok(acct.email_verified_at);
    assert.equal(acct.password_hash, null);
    assert.equal((await rolesIn(s.owner.client, s.owner.org.id))[acct.id], 'member');
  });

  it('an account at the domain whose address was never proven (a squatter) is invited, not linked', async () => {
    const s = await scimOrg(t, 'Squatted Owner');
    const email = s.idp.email('ceo');
    // Signed up with the address but never used the link mailed to it.
    const squatter = await victim('squatter', email, false);
    assert.equal((await account(squatter.id)).email_verified_at, null);
    const u = await s.idp.createUser(email);
    assert.equal(u.active, false);
    assert.equal((await rolesIn(s.owner.client, s.owner.org.id))[squatter.id], undefined);
    assert.ok(!(await orgsOf(squatter.client)).includes(s.owner.org.id));
    const row = await t.deps.db
      .selectFrom('scim_users')
      .select('user_id')
      .where('id', '=', u.id)
      .executeTakeFirstOrThrow();
    assert.equal(row.user_id, null);
    // The invitation goes to the mailbox: whoever really holds the address proves it by accepting.
    assert.equal(await mailsTo(email), 1);
  });

  it('a pending record renamed into the verified domain links the proven account there', async () => {
    const s = await scimOrg(t, 'Renaming Owner');
    const outside = uniqueEmail('outside');
    const u = await s.idp.createUser(outside);
    assert.equal(u.active, false);
    const token = await invitationTokenFor(t, outside);
    const inside = s.idp.email('inside');
    const put = await s.idp.put(`/Users/${u.id}`, { schemas: [USER], userName: inside, active: true });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal((put.json() as ScimUser).active, true, 'a new account at the domain, linked');
    const late = t.client();
    await late.signup({ email: outside });
    assertProblem(await late.post('/api/v1/invitations/accept', { token }), 400, 'invalid_token');
  });
});
