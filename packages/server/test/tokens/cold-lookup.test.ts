import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import { bearer, mintPat, orgWithRoles } from './helpers.js';

// With nothing cached (AUTH_CACHE_ENTRIES=0: every request validates its token in the database),
// a personal token and its person's orgs are read in one statement, and each request reads them
// afresh: what a request was allowed a moment ago never outlives a change.
let t: TestServer;
before(async () => {
  t = await testServer({ env: { AUTH_CACHE_ENTRIES: '0' } });
});
after(() => t.close());

describe('a personal token validated in the database', () => {
  it("is read with its person's orgs in one statement, and a removal counts from the next request", async () => {
    const { owner, org, member, ids } = await orgWithRoles(t);
    const pat = await mintPat(member);

    // The first use also records when the token was last used (once a minute, off the request path).
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/me' })).statusCode, 200);
    await new Promise((r) => setTimeout(r, 50));
    const before = t.queries.count;
    const r = await bearer(t, pat.token, { url: '/api/v1/me', org: org.id });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().org.id, org.id);
    assert.equal(r.json().org.role, 'member');
    const roles = (res: { json(): { orgs: { id: string; role: string }[] } }) =>
      Object.fromEntries(res.json().orgs.map((o) => [o.id, o.role]));
    assert.equal(roles(r)[org.id], 'member');
    assert.equal(
      t.queries.touching(before, ['api_tokens', 'memberships', 'membership_lists']),
      1,
      'one statement for both',
    );

    // The next request reads them again: nothing is kept past the request that read them.
    const again = t.queries.count;
    assert.equal((await bearer(t, pat.token, { url: '/api/v1/me', org: org.id })).statusCode, 200);
    assert.equal(t.queries.touching(again, ['api_tokens', 'memberships', 'membership_lists']), 1);

    const removed = await owner.delete(`/api/v1/org/members/${ids.member}`, org.id);
    assert.equal(removed.statusCode, 204, removed.body);
    const me = await bearer(t, pat.token, { url: '/api/v1/me' });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(roles(me)[org.id], undefined);
    assert.equal(me.json().orgs.length, Object.keys(roles(r)).length - 1);
    const inOrg = await bearer(t, pat.token, { url: '/api/v1/me', org: org.id });
    assert.equal(inOrg.statusCode, 403);
    assert.equal(inOrg.json().code, 'org_forbidden');
  });

  it('validates the tokens of requests that arrive together in one shared statement, each its own', async () => {
    const { member, owner } = await orgWithRoles(t);
    const pats = [await mintPat(member), await mintPat(owner), await mintPat(member), await mintPat(owner)];
    await new Promise((r) => setTimeout(r, 50));
    const before = t.queries.count;
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => bearer(t, pats[i % 4]!.token, { url: '/api/v1/me' })),
    );
    const mine = await member.get('/api/v1/me');
    const theirs = await owner.get('/api/v1/me');
    answers.forEach((r, i) => {
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().user.id, (i % 2 === 0 ? mine : theirs).json().user.id);
      assert.equal(r.json().credential.prefix, pats[i % 4]!.prefix);
    });
    // The lookup is the statement that reads `membership_lists` (recording each token's first use
    // writes `api_tokens` too). The requests arrive in one or a few turns of the event loop.
    const lookups = t.queries.touching(before, ['membership_lists']);
    assert.ok(lookups <= 3, `${lookups} lookups for 12 validations`);
  });
});
