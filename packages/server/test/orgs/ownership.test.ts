import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import { assertProblem, auditPage, rolesIn, stranger, team } from './helpers.js';

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

describe('the last owner', () => {
  it('keeps the last owner: it can neither be demoted nor leave (409 last_owner)', async () => {
    const { org, people } = await team(t);
    const owner = people.owner.client;
    assertProblem(
      await owner.patch(`/api/v1/org/members/${people.owner.id}`, { role: 'admin' }, org.id),
      409,
      'last_owner',
      'demote self',
    );
    assertProblem(
      await owner.delete(`/api/v1/org/members/${people.owner.id}`, org.id),
      409,
      'last_owner',
      'leave',
    );
    assert.equal((await rolesIn(owner, org.id))[people.owner.id], 'owner');
  });

  it('lets a non-last owner leave or be demoted, then protects the one who remains', async () => {
    const { org, people } = await team(t);
    const owner = people.owner.client;
    assert.equal(
      (await owner.patch(`/api/v1/org/members/${people.admin.id}`, { role: 'owner' }, org.id)).statusCode,
      200,
    );
    // Two owners: the first may leave.
    const left = await owner.delete(`/api/v1/org/members/${people.owner.id}`, org.id);
    assert.equal(left.statusCode, 204, left.body);
    assertProblem(await owner.get('/api/v1/org', org.id), 403, 'org_forbidden', 'after leaving');
    const heir = people.admin.client;
    assertProblem(await heir.delete(`/api/v1/org/members/${people.admin.id}`, org.id), 409, 'last_owner');
    assertProblem(
      await heir.patch(`/api/v1/org/members/${people.admin.id}`, { role: 'member' }, org.id),
      409,
      'last_owner',
    );
    // A second owner again; now one owner may demote the other, and then not themselves.
    assert.equal(
      (await heir.patch(`/api/v1/org/members/${people.member.id}`, { role: 'owner' }, org.id)).statusCode,
      200,
    );
    assert.equal(
      (await heir.patch(`/api/v1/org/members/${people.member.id}`, { role: 'admin' }, org.id)).statusCode,
      200,
    );
    assertProblem(
      await heir.patch(`/api/v1/org/members/${people.admin.id}`, { role: 'admin' }, org.id),
      409,
      'last_owner',
    );
    const [ev] = (await auditPage(heir, org.id, 'action=member.left')).data;
    assert.equal(ev?.actor, `user:${people.owner.id}`);
    assert.deepEqual(ev?.data, { role: 'owner' });
  });

  it('keeps one owner when two owners demote each other, or both leave, at the same moment', async () => {
    const { org, people } = await team(t);
    const [a, b] = [people.owner, people.admin];
    assert.equal(
      (await a.client.patch(`/api/v1/org/members/${b.id}`, { role: 'owner' }, org.id)).statusCode,
      200,
    );
    const demotions = await Promise.all([
      a.client.patch(`/api/v1/org/members/${b.id}`, { role: 'admin' }, org.id),
      b.client.patch(`/api/v1/org/members/${a.id}`, { role: 'admin' }, org.id),
    ]);
    // The second to commit is no longer an owner, so may not demote one.
    assert.deepEqual(
      demotions.map((r) => r.statusCode).sort(),
      [200, 403],
      demotions.map((r) => r.body).join(' '),
    );
    const owners = Object.entries(await rolesIn(people.member.client, org.id)).filter(
      ([, r]) => r === 'owner',
    );
    assert.equal(owners.length, 1);
    const [[ownerId]] = owners as [[string, string]];
    const [stay, other] = ownerId === a.id ? [a, b] : [b, a];
    assert.equal(
      (await stay.client.patch(`/api/v1/org/members/${other.id}`, { role: 'owner' }, org.id)).statusCode,
      200,
    );
    const leaving = await Promise.all([
      a.client.delete(`/api/v1/org/members/${a.id}`, org.id),
      b.client.delete(`/api/v1/org/members/${b.id}`, org.id),
    ]);
    assert.deepEqual(
      leaving.map((r) => r.statusCode).sort(),
      [204, 409],
      leaving.map((r) => r.body).join(' '),
    );
    assert.equal(
      Object.values(await rolesIn(people.member.client, org.id)).filter((r) => r === 'owner').length,
      1,
    );
  });
});

describe('ownership transfer', () => {
  it('makes the target owner and the caller admin, audited, effective at once', async () => {
    const { org, people } = await team(t);
    const owner = people.owner.client;
    assert.equal((await owner.get('/api/v1/org/tokens', org.id)).statusCode, 200);
    const res = await owner.post('/api/v1/org/transfer-ownership', { user_id: people.billing.id }, org.id);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { owner: people.billing.id, previous_owner_role: 'admin' });
    const roles = await rolesIn(owner, org.id);
    assert.equal(roles[people.billing.id], 'owner');
    assert.equal(roles[people.owner.id], 'admin');
    assert.equal(Object.values(roles).filter((r) => r === 'owner').length, 1);
    // Both people's very next requests see their new roles.
    assertProblem(
      await owner.post('/api/v1/org/transfer-ownership', { user_id: people.member.id }, org.id),
      403,
      'forbidden',
    );
    assertProblem(await owner.delete('/api/v1/org', org.id), 403, 'forbidden');
    assert.equal((await people.billing.client.get('/api/v1/audit', org.id)).statusCode, 200);
    const [ev] = (await auditPage(people.billing.client, org.id, 'action=org.ownership_transferred')).data;
    assert.equal(ev?.actor, `user:${people.owner.id}`);
    assert.equal(ev?.target, `user:${people.billing.id}`);
    assert.deepEqual(ev?.data, {
      from: people.owner.id,
      to: people.billing.id,
      target_previous_role: 'billing',
    });
  });

  it('gives the org away once when one owner transfers to two people at the same moment', async () => {
    const { org, people } = await team(t);
    const owner = people.owner.client;
    const both = await Promise.all([
      owner.post('/api/v1/org/transfer-ownership', { user_id: people.admin.id }, org.id),
      owner.post('/api/v1/org/transfer-ownership', { user_id: people.member.id }, org.id),
    ]);
    assert.deepEqual(both.map((r) => r.statusCode).sort(), [200, 403], both.map((r) => r.body).join(' '));
    const owners = Object.entries(await rolesIn(people.member.client, org.id)).filter(
      ([, r]) => r === 'owner',
    );
    assert.equal(owners.length, 1, JSON.stringify(owners));
    assert.equal((await auditPage(owner, org.id, 'action=org.ownership_transferred')).data.length, 1);
  });

  it('refuses a role change that needs an owner from someone demoted a moment before', async () => {
    const { org, people } = await team(t);
    const [a, b] = [people.owner, people.admin];
    assert.equal(
      (await a.client.patch(`/api/v1/org/members/${b.id}`, { role: 'owner' }, org.id)).statusCode,
      200,
    );
    // b demotes a while a (still owner when authorised) promotes the member to owner.
    const [demote, promote] = await Promise.all([
      b.client.patch(`/api/v1/org/members/${a.id}`, { role: 'admin' }, org.id),
      a.client.patch(`/api/v1/org/members/${people.member.id}`, { role: 'owner' }, org.id),
    ]);
    assert.equal(demote.statusCode, 200, demote.body);
    const roles = await rolesIn(people.member.client, org.id);
    if (roles[a.id] === 'admin' && promote.statusCode === 200) {
      // Allowed only if a's promotion committed before a's demotion.
      const events = (await auditPage(b.client, org.id, 'action=member.role_changed')).data;
      const order = events.map((e) => e.target).reverse();
      assert.ok(
        order.indexOf(`user:${people.member.id}`) < order.indexOf(`user:${a.id}`),
        'a promoted after being demoted',
      );
    } else {
      assertProblem(promote, 403, 'forbidden');
      assert.equal(roles[people.member.id], 'member');
    }
  });

  it('refuses a non-member, oneself and a malformed id', async () => {
    const { org, people } = await team(t);
    const outsider = await stranger(t);
    const owner = people.owner.client;
    assertProblem(
      await owner.post('/api/v1/org/transfer-ownership', { user_id: outsider.id }, org.id),
      404,
      'not_found',
    );
    assertProblem(
      await owner.post('/api/v1/org/transfer-ownership', { user_id: people.owner.id }, org.id),
      400,
      'invalid_request',
    );
    assertProblem(
      await owner.post('/api/v1/org/transfer-ownership', { user_id: 'nope' }, org.id),
      400,
      'invalid_request',
    );
    assert.equal((await rolesIn(owner, org.id))[people.owner.id], 'owner');
  });
});
