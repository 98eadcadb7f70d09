import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type Client,
  DEFAULT_PASSWORD,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  type TestServer,
  testServer,
  tokenFrom,
} from '../helpers/harness.js';

// A person's own activity log, GET /api/v1/me/activity. Sign-ins, failed sign-ins and personal
// tokens used to be stored with no org, so no screen showed them; and the log must never leak
// another person's events (an IDOR on someone else's sign-ins and addresses).

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

interface Event {
  id: string;
  action: string;
  created_at: string;
  org: { id: string; name: string | null } | null;
  actor: { kind: string; name: string | null };
  ip: string | null;
  device: string | null;
  details: Record<string, unknown>;
}

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

async function activity(c: Client, query = ''): Promise<Event[]> {
  const res = await c.get(`/api/v1/me/activity${query}`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json().data as Event[];
}

/** Every event id whose subject is `userId`, straight from the table. */
async function subjectIds(userId: string): Promise<Set<string>> {
  const rows = await t.deps.db
    .selectFrom('audit_events')
    .select('id')
    .where('subject_user_id', '=', userId)
    .execute();
  return new Set(rows.map((r) => r.id));
}

describe('GET /api/v1/me/activity', () => {
  it('shows my sign-ins, a failed sign-in (IP and device, never the password) and my token mint and revoke', async () => {
    const me = t.client();
    const s = await me.signup();
    const attacker = t.client({ ip: '10.66.6.6' });
    const wrongPassword = 'not my password at all 77';
    const failed = await attacker.req({
      method: 'POST',
      url: '/api/auth/signin',
      headers: { 'user-agent': FIREFOX },
      body: { email: s.user.email, password: wrongPassword },
    });
    assert.equal(failed.statusCode, 401);
    assert.equal(
      (await me.post('/api/auth/signin', { email: s.user.email, password: DEFAULT_PASSWORD })).statusCode,
      200,
    );
    const minted = await me.post('/api/v1/tokens', { name: 'laptop', scopes: ['org:read'] });
    assert.equal(minted.statusCode, 201, minted.body);
    const token = minted.json() as { id: string; prefix: string };
    assert.equal((await me.delete(`/api/v1/tokens/${token.id}`)).statusCode, 204);

    const events = await activity(me);
    const actions = events.map((e) => e.action);
    for (const a of ['user.signup', 'user.signin', 'user.signin_failed', 'token.created', 'token.revoked'])
      assert.ok(actions.includes(a), `${a} in ${actions.join(', ')}`);
    // Newest first.
    assert.equal(actions[0], 'token.revoked');
    const sorted = [...events].sort((a, b) => b.created_at.localeCompare(a.created_at));
    assert.deepEqual(
      events.map((e) => e.created_at),
      sorted.map((e) => e.created_at),
    );

    const fail = events.find((e) => e.action === 'user.signin_failed')!;
    assert.equal(fail.ip, '10.66.6.6');
    assert.equal(fail.device, 'Firefox on Linux');
    assert.equal(fail.actor.kind, 'anonymous');
    assert.deepEqual(fail.details, { method: 'password' });
    const mint = events.find((e) => e.action === 'token.created')!;
    assert.equal(mint.actor.kind, 'you');
    assert.equal(mint.details.prefix, token.prefix);
    const body = JSON.stringify(events);
    assert.ok(!body.includes(wrongPassword), 'the password typed never appears');
    assert.ok(!body.includes('token_hash') && !body.includes('sha256'), 'no hashes');
  });

  it('never shows another person’s events, whatever the query', async () => {
    const me = t.client();
    const mine = await me.signup();
    const other = t.client();
    const them = await other.signup();
    // The other person's failed and successful sign-ins, and their token.
    await t.client().post('/api/auth/signin', { email: them.user.email, password: 'wrong wrong wrong 1' });
    await other.post('/api/auth/signin', { email: them.user.email, password: DEFAULT_PASSWORD });
    assert.equal(
      (await other.post('/api/v1/tokens', { name: 'theirs', scopes: ['org:read'] })).statusCode,
      201,
    );

    const theirIds = await subjectIds(them.user.id);
    assert.ok(theirIds.size >= 4, 'their events exist');
    const seen: Event[] = [];
    let cursor: string | null = null;
    do {
      const res = await me.get(`/api/v1/me/activity?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.statusCode, 200, res.body);
      seen.push(...(res.json().data as Event[]));
      cursor = res.json().next_cursor;
    } while (cursor);
    assert.ok(seen.length >= 2);
    assert.equal(new Set(seen.map((e) => e.id)).size, seen.length, 'pages do not overlap');
    assert.deepEqual(new Set(seen.map((e) => e.id)), await subjectIds(mine.user.id), 'exactly my events');
    for (const e of seen) assert.ok(!theirIds.has(e.id), `their event ${e.action} leaked`);
    assert.ok(!JSON.stringify(seen).includes(them.user.email));
  });

  it('shows an org admin’s actions on me (invited, role changed) on my log, by name, and not on theirs', async () => {
    const admin = t.client();
    const boss = await admin.signup({ name: 'Org Boss' });
    const me = t.client();
    const mine = await me.signup();
    const inv = await admin.post(
      '/api/v1/org/invitations',
      { email: mine.user.email, role: 'member' },
      boss.org.id,
    );
    assert.equal(inv.statusCode, 201, inv.body);
    const link = linkIn((await lastMailTo(t.outboxDir, mine.user.email)).text, `${PUBLIC_URL}/invite`);
    const accepted = await me.req({
      method: 'POST',
      url: '/invite',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokenFrom(link) }).toString(),
    });
    assert.equal(accepted.statusCode, 303, accepted.body);
    const role = await admin.patch(`/api/v1/org/members/${mine.user.id}`, { role: 'admin' }, boss.org.id);
    assert.equal(role.statusCode, 200, role.body);

    const events = await activity(me);
    const joined = events.find((e) => e.action === 'invitation.accepted');
    assert.ok(joined, 'the org I joined by invitation');
    assert.deepEqual(joined.org, { id: boss.org.id, name: "Org Boss's org" });
    const changed = events.find((e) => e.action === 'member.role_changed');
    assert.ok(changed, 'the admin’s change to my role');
    assert.deepEqual(changed.actor, { kind: 'person', name: 'Org Boss' });

    const theirs = await activity(admin);
    assert.ok(!theirs.some((e) => e.action === 'member.role_changed' || e.action === 'invitation.accepted'));
  });

  it('answers 401 without a credential and 400 for a forged cursor, never 5xx', async () => {
    const anonymous = await t.client().get('/api/v1/me/activity');
    assert.equal(anonymous.statusCode, 401);
    const me = t.client();
    await me.signup();
    for (const cursor of ['nope', Buffer.from('["x","y"]').toString('base64url'), '%00']) {
      const res = await me.get(`/api/v1/me/activity?cursor=${cursor}`);
      assert.equal(res.statusCode, 400, `${cursor}: ${res.body}`);
      assert.equal(res.json().code, 'invalid_request');
    }
    assert.equal((await me.get('/api/v1/me/activity?limit=0')).statusCode, 400);
  });
});
