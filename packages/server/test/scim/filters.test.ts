import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import { manualClock } from '../../src/lib/clock.js';
import { HOUR } from '../../src/lib/clock.js';
import { assertScimError, type Idp, list, type ScimUser, scimOrg } from './helpers.js';

// Filters over HTTP against a known set of users: quoting, case, precedence, presence, dates,
// multi-valued attributes, pagination and projection — and what is refused.

const T0 = new Date('2026-03-01T09:00:00Z');
const clock = manualClock(T0);
let t: TestServer;
let idp: Idp;
const people: Record<'alice' | 'bob' | 'carol' | 'dan', ScimUser> = {} as never;

before(async () => {
  t = await testServer({ clock });
  idp = (await scimOrg(t, 'Filter Owner')).idp;
  people.alice = await idp.createUser(idp.email('Alice.Smith'), {
    name: { givenName: 'Alice', familyName: 'Smith' },
    displayName: 'Alice "Al" Smith',
    externalId: 'ext-A',
  });
  clock.advance(HOUR);
  people.bob = await idp.createUser(idp.email('bob'), {
    name: { givenName: 'Bob', familyName: "O'Brien" },
    displayName: 'Bob',
    externalId: 'ext-B',
    active: false,
  });
  clock.advance(HOUR);
  const carol = idp.email('carol');
  people.carol = await idp.createUser(carol, {
    name: { givenName: 'Carol', familyName: 'Smith' },
    emails: [
      { value: 'carol@home.test', type: 'home' },
      { value: carol, type: 'work', primary: true },
    ],
  });
  clock.advance(HOUR);
  people.dan = await idp.createUser(idp.email('dan'), {
    name: { givenName: 'Dan', familyName: 'Sale' },
    displayName: '50% off_sale',
  });
});
after(() => t.close());

/** The names of the people a filter finds, sorted. */
async function who(filter: string): Promise<string[]> {
  const res = list<ScimUser>(await idp.filter('Users', filter));
  assert.equal(res.totalResults, res.Resources.length);
  const byId = new Map(Object.entries(people).map(([k, v]) => [v.id, k]));
  return res.Resources.map((r) => byId.get(r.id) ?? r.id).sort();
}

describe('SCIM filters over HTTP', () => {
  it('matches userName case-insensitively, with attribute names in any case', async () => {
    const name = people.alice.userName;
    assert.deepEqual(await who(`userName eq "${name.toUpperCase()}"`), ['alice']);
    assert.deepEqual(await who(`USERNAME eq "${name}"`), ['alice']);
    assert.deepEqual(await who(`UserName Eq "${name}"`), ['alice']);
    assert.deepEqual(await who(`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "${name}"`), [
      'alice',
    ]);
    // externalId is caseExact.
    assert.deepEqual(await who('externalId eq "ext-A"'), ['alice']);
    assert.deepEqual(await who('externalId eq "EXT-A"'), []);
  });

  it('reads quotes: escaped double quotes, single quotes, operators inside strings', async () => {
    assert.deepEqual(await who('displayName eq "Alice \\"Al\\" Smith"'), ['alice']);
    assert.deepEqual(await who('displayName co "\\"Al\\""'), ['alice']);
    assert.deepEqual(await who(`name.familyName eq "O'Brien"`), ['bob']);
    assert.deepEqual(await who('displayName eq "x and y or not (z)"'), []);
  });

  it('does co, sw, ew, ne and gt/lt on strings, with LIKE wildcards taken literally', async () => {
    assert.deepEqual(await who('name.familyName co "mit"'), ['alice', 'carol']);
    assert.deepEqual(await who('name.familyName sw "sm"'), ['alice', 'carol']);
    assert.deepEqual(await who('name.givenName ew "OB"'), ['bob']);
    assert.deepEqual(await who('displayName co "%"'), ['dan']);
    assert.deepEqual(await who('displayName co "_"'), ['dan']);
    assert.deepEqual(await who('displayName sw "50% o"'), ['dan']);
    assert.deepEqual(await who('name.familyName ne "Smith"'), ['bob', 'dan']);
    assert.deepEqual(await who('name.givenName gt "C"'), ['carol', 'dan']);
    assert.deepEqual(await who('name.givenName le "bob"'), ['alice', 'bob']);
  });

  it('binds not over and over or, and parentheses regroup', async () => {
    const bob = people.bob.userName;
    assert.deepEqual(
      await who(`name.familyName eq "Smith" and name.givenName eq "Carol" or userName eq "${bob}"`),
      ['bob', 'carol'],
    );
    assert.deepEqual(
      await who(`name.familyName eq "Smith" and (name.givenName eq "Carol" or userName eq "${bob}")`),
      ['carol'],
    );
    assert.deepEqual(await who('not (name.familyName eq "Smith")'), ['bob', 'dan']);
    assert.deepEqual(await who('not (name.familyName eq "Smith") and not (active eq false)'), ['dan']);
    assert.deepEqual(await who('not (not (externalId pr))'), ['alice', 'bob']);
  });

  it('tests presence with pr, and booleans', async () => {
    assert.deepEqual(await who('externalId pr'), ['alice', 'bob']);
    assert.deepEqual(await who('displayName pr'), ['alice', 'bob', 'dan']);
    assert.deepEqual(await who('not (externalId pr)'), ['carol', 'dan']);
    assert.deepEqual(await who('active eq false'), ['bob']);
    assert.deepEqual(await who('active eq true'), ['alice', 'carol', 'dan']);
    assert.deepEqual(await who('active ne true'), ['bob']);
  });

  it('compares dates with gt, ge, lt', async () => {
    assert.deepEqual(await who('meta.created gt "2026-03-01T09:30:00Z"'), ['bob', 'carol', 'dan']);
    assert.deepEqual(await who('meta.created ge "2026-03-01T11:00:00.000Z"'), ['carol', 'dan']);
    assert.deepEqual(await who('meta.created lt "2026-03-01T10:00:00+00:00"'), ['alice']);
    assert.deepEqual(await who('meta.lastModified gt "2026-03-01T11:30:00Z" and meta.created pr'), ['dan']);
  });

  it('filters multi-valued emails by value, by sub-attribute and with a value filter', async () => {
    assert.deepEqual(await who('emails.value eq "carol@home.test"'), ['carol']);
    assert.deepEqual(await who('emails co "home.test"'), ['carol']);
    assert.deepEqual(await who('emails[type eq "home" and value ew ".test"]'), ['carol']);
    assert.deepEqual(await who('emails[type eq "home"] or id eq "' + people.dan.id + '"'), ['carol', 'dan']);
  });

  it('refuses unknown attributes and malformed filters with 400 invalidFilter', async () => {
    for (const f of [
      'title eq "x"',
      'password pr',
      'name.middleName eq "x"',
      'userName eq',
      'userName eq "x" and',
      '(userName eq "x"',
      'userName eq "unterminated',
      "userName eq 'x'",
      'active eq "sometimes"',
      'meta.created gt "last tuesday"',
      'userName eq "x"; drop table users',
    ]) {
      assertScimError(await idp.filter('Users', f), 400, 'invalidFilter', f);
    }
    assertScimError(await idp.filter('Groups', 'userName eq "x"'), 400, 'invalidFilter');
  });

  it('treats SQL in a filter as a literal', async () => {
    const before = await t.deps.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    for (const f of [
      `userName eq "x\\" or \\"1\\"=\\"1"`,
      `userName eq "' or 1=1 --"`,
      `userName eq "x'); delete from users; --"`,
      `displayName co "') or true or ('"`,
      `userName sw "%' or '%'='"`,
    ]) {
      assert.deepEqual(await who(f), [], f);
    }
    const after = await t.deps.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(after.n, before.n);
    assert.equal(list<ScimUser>(await idp.get('/Users')).totalResults, 4);
  });
});

describe('SCIM lists: pagination and projection', () => {
  it('pages with startIndex (1-based) and count, and reports totalResults', async () => {
    const all = list<ScimUser>(await idp.get('/Users'));
    assert.equal(all.totalResults, 4);
    assert.deepEqual(
      all.Resources.map((r) => r.id),
      [people.alice, people.bob, people.carol, people.dan].map((p) => p.id),
    );
    const p2 = list<ScimUser>(await idp.get('/Users?startIndex=2&count=2'));
    assert.equal(p2.startIndex, 2);
    assert.equal(p2.itemsPerPage, 2);
    assert.equal(p2.totalResults, 4);
    assert.deepEqual(
      p2.Resources.map((r) => r.id),
      [people.bob.id, people.carol.id],
    );
    const past = list<ScimUser>(await idp.get('/Users?startIndex=10'));
    assert.equal(past.itemsPerPage, 0);
    assert.equal(past.totalResults, 4);
    const none = list<ScimUser>(await idp.get('/Users?count=0'));
    assert.deepEqual(none.Resources, []);
    assert.equal(none.totalResults, 4);
    assert.equal(list<ScimUser>(await idp.get('/Users?count=-3')).itemsPerPage, 0);
    assert.equal(
      list<ScimUser>(await idp.get('/Users?startIndex=0&count=1')).Resources[0]!.id,
      people.alice.id,
    );
    assert.equal(
      list<ScimUser>(await idp.get('/Users?count=100000')).itemsPerPage,
      4,
      'a huge count is capped, not refused',
    );
    assert.equal(
      (await idp.get('/Users?sortBy=userName&sortOrder=descending')).statusCode,
      200,
      'sortBy is ignored',
    );
    assertScimError(await idp.get('/Users?startIndex=abc'), 400, 'invalidValue');
  });

  it('returns only the attributes asked for (id and schemas always), or all but the excluded', async () => {
    const only = list<Record<string, unknown>>(
      await idp.filter('Users', `id eq "${people.carol.id}"`, '&attributes=USERNAME,name.givenName'),
    ).Resources[0]!;
    assert.deepEqual(Object.keys(only).sort(), ['id', 'name', 'schemas', 'userName']);
    assert.deepEqual(only.name, { givenName: 'Carol' });

    const ex = (
      await idp.get(`/Users/${people.carol.id}?excludedAttributes=emails,groups,meta,name.familyName`)
    ).json();
    assert.equal(ex.emails, undefined);
    assert.equal(ex.groups, undefined);
    assert.equal(ex.meta, undefined);
    assert.deepEqual(ex.name, { givenName: 'Carol' });
    assert.equal(ex.userName, people.carol.userName);

    const urn = (
      await idp.get(
        `/Users/${people.alice.id}?attributes=urn:ietf:params:scim:schemas:core:2.0:User:displayName,meta.version`,
      )
    ).json();
    assert.deepEqual(Object.keys(urn).sort(), ['displayName', 'id', 'meta', 'schemas']);
    assert.deepEqual(Object.keys(urn.meta), ['version']);
    assert.equal(
      (await idp.get(`/Users/${people.alice.id}?excludedAttributes=id`)).json().id,
      people.alice.id,
    );
  });
});
