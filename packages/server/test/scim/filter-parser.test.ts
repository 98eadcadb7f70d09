import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type RawBuilder,
  type SqlBool,
} from 'kysely';
import type { Database } from '../../src/db/schema.js';
import { ScimError } from '../../src/scim/errors.js';
import { type Filter, parseFilter, parsePath } from '../../src/scim/filter.js';
import { compileFilter } from '../../src/scim/filter-sql.js';
import { GROUP_ATTRS } from '../../src/scim/groups/queries.js';
import { GROUP_RESOURCE, USER_RESOURCE } from '../../src/scim/schema.js';
import { USER_ATTRS } from '../../src/scim/users/queries.js';

// The filter language on its own: text → AST (RFC 7644 §3.4.2.2), and AST → SQL with every
// literal a bound parameter.

function throwsScim(fn: () => unknown, scimType: string, what = '') {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ScimError, `${what}: ${String(err)}`);
    assert.equal(err.scimType, scimType, `${what}: ${err.detail}`);
    return true;
  });
}

/** The AST as compact text, so precedence reads at a glance. */
function show(f: Filter): string {
  const p = (x: { uri: string | null; attr: string; sub: string | null }) =>
    `${x.uri ? `${x.uri}:` : ''}${x.attr}${x.sub ? `.${x.sub}` : ''}`;
  switch (f.kind) {
    case 'logical':
      return `(${show(f.left)} ${f.op} ${show(f.right)})`;
    case 'not':
      return `not(${show(f.filter)})`;
    case 'present':
      return `${p(f.path)} pr`;
    case 'compare':
      return `${p(f.path)} ${f.op} ${JSON.stringify(f.value)}`;
    case 'valuePath':
      return `${p(f.path)}[${show(f.filter)}]`;
  }
}

describe('SCIM filter parser', () => {
  it('reads every operator, and keywords in any case', () => {
    for (const op of ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']) {
      assert.equal(show(parseFilter(`userName ${op} "a"`)), `userName ${op} "a"`);
      assert.equal(show(parseFilter(`userName ${op.toUpperCase()} "a"`)), `userName ${op} "a"`);
    }
    assert.equal(show(parseFilter('title PR')), 'title pr');
    assert.equal(show(parseFilter('active eq TRUE')), 'active eq true');
    assert.equal(show(parseFilter('x eq null')), 'x eq null');
    assert.equal(show(parseFilter('n gt -1.5e3')), 'n gt -1500');
  });

  it('binds not tighter than and, and tighter than or; parentheses regroup', () => {
    assert.equal(show(parseFilter('a eq 1 or b eq 2 and c eq 3')), '(a eq 1 or (b eq 2 and c eq 3))');
    assert.equal(show(parseFilter('a eq 1 and b eq 2 or c eq 3')), '((a eq 1 and b eq 2) or c eq 3)');
    assert.equal(show(parseFilter('(a eq 1 or b eq 2) and c eq 3')), '((a eq 1 or b eq 2) and c eq 3)');
    assert.equal(
      show(parseFilter('not (a eq 1) and b eq 2 or not(c pr)')),
      '((not(a eq 1) and b eq 2) or not(c pr))',
    );
    assert.equal(show(parseFilter('a eq 1 and b eq 2 and c eq 3')), '((a eq 1 and b eq 2) and c eq 3)');
    assert.equal(show(parseFilter('((a eq 1))')), 'a eq 1');
  });

  it('reads JSON string literals: escaped quotes, backslashes, unicode, and operators inside quotes', () => {
    const v = (text: string) => (parseFilter(text) as { value: unknown }).value;
    assert.equal(v('userName eq "say \\"hi\\""'), 'say "hi"');
    assert.equal(v('userName eq "back\\\\slash"'), 'back\\slash');
    assert.equal(v('userName eq "caf\\u00e9"'), 'café');
    assert.equal(v('userName eq "a and b or not (c)"'), 'a and b or not (c)');
    assert.equal(v('userName eq ""'), '');
    assert.equal(v(`userName eq "x' OR 1=1; drop table users; --"`), "x' OR 1=1; drop table users; --");
  });

  it('reads attribute paths: sub-attributes, schema URNs, value filters', () => {
    assert.equal(show(parseFilter('name.givenName eq "A"')), 'name.givenName eq "A"');
    assert.equal(
      show(parseFilter('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "a"')),
      'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "a"',
    );
    assert.equal(
      show(parseFilter('emails[type eq "work" and value co "@example.com"] or userName eq "x"')),
      '(emails[(type eq "work" and value co "@example.com")] or userName eq "x")',
    );
    assert.equal(
      show(parseFilter('meta.lastModified gt "2026-01-01T00:00:00Z"')),
      'meta.lastModified gt "2026-01-01T00:00:00Z"',
    );
  });

  it('refuses malformed filters with invalidFilter', () => {
    for (const bad of [
      '',
      '   ',
      'userName',
      'userName eq',
      'userName eq "unterminated',
      'userName eq "bad \\x escape"',
      'userName equals "a"',
      'userName eq "a" and',
      'userName eq "a" userName eq "b"',
      '(userName eq "a"',
      'userName eq "a")',
      'not userName eq "a"',
      'userName eq bare',
      "userName eq 'single'",
      'userName = "a"',
      'emails[type eq "work"',
      'emails[value[type eq "x"]]',
      'name.givenName.more eq "a"',
      '1abc eq "a"',
      'userName eq "a"; drop table users',
      `${'('.repeat(40)}a eq 1${')'.repeat(40)}`,
      Array.from({ length: 60 }, (_, i) => `a eq ${i}`).join(' or '),
      `userName eq "${'x'.repeat(3000)}"`,
    ]) {
      throwsScim(() => parseFilter(bad), 'invalidFilter', bad.slice(0, 60));
    }
  });

  it('reads PATCH paths, and refuses malformed ones with invalidPath', () => {
    assert.deepEqual(parsePath('active'), {
      path: { uri: null, attr: 'active', sub: null },
      filter: null,
      sub: null,
    });
    assert.equal(parsePath('name.givenName').path.sub, 'givenName');
    const p = parsePath('emails[type eq "work"].value');
    assert.equal(p.sub, 'value');
    assert.equal(show(p.filter!), 'type eq "work"');
    assert.equal(
      show(parsePath('members[value eq "2819c223-7f76-453a-919d-413861904646"]').filter!),
      'value eq "2819c223-7f76-453a-919d-413861904646"',
    );
    for (const bad of [
      '',
      '[x]',
      'members[',
      'members[]',
      'members[value eq "x"]junk',
      'a b',
      'emails[type eq "w"].',
      'name.givenName[x eq 1]',
    ]) {
      throwsScim(() => parsePath(bad), 'invalidPath', bad);
    }
  });
});

const db = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new PostgresIntrospector(k),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

function compileUsers(text: string) {
  const where: RawBuilder<SqlBool> = compileFilter(parseFilter(text), USER_RESOURCE, USER_ATTRS);
  return db.selectFrom('scim_users as su').select('su.id').where(where).compile();
}

describe('SCIM filter → SQL', () => {
  it('puts every literal in a parameter, never in the statement', () => {
    const evil = `x' or '1'='1'); delete from users; --`;
    const q = compileUsers(`userName eq "${evil}" or displayName co "${evil}"`);
    assert.ok(!q.sql.includes('delete from users'), q.sql);
    assert.ok(!q.sql.includes("'1'='1'"), q.sql);
    assert.deepEqual(q.parameters, [evil, `%${evil}%`]);
  });

  it('escapes LIKE wildcards in co / sw / ew values', () => {
    assert.deepEqual(compileUsers('userName co "50%_off\\\\"').parameters, ['%50\\%\\_off\\\\%']);
    assert.deepEqual(compileUsers('userName sw "a_"').parameters, ['a\\_%']);
    assert.deepEqual(compileUsers('userName ew "%"').parameters, ['%\\%']);
  });

  it('compares userName case-insensitively and externalId exactly', () => {
    assert.match(compileUsers('userName eq "A"').sql, /lower\(su\.user_name\) = lower\(\$1\)/);
    assert.match(compileUsers('externalId eq "A"').sql, /su\.external_id = \$1/);
  });

  it('accepts attribute names in any case and with the core schema URN', () => {
    const a = compileUsers('USERNAME eq "a"');
    const b = compileUsers('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"');
    assert.equal(a.sql, compileUsers('userName eq "a"').sql);
    assert.equal(b.sql, a.sql);
  });

  it('refuses attributes it cannot filter on, and values of the wrong type, with invalidFilter', () => {
    for (const bad of [
      'password eq "x"',
      'title eq "x"',
      'name.middleName eq "x"',
      'userName.x eq "a"',
      'emails.primary eq true',
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"',
      'groups.value eq "x"',
      'members[value eq "x"]',
      'emails[nope eq "x"]',
      'active eq "maybe"',
      'active gt true',
      'userName eq 5',
      'meta.created gt "yesterday"',
      'meta.created co "2026"',
      'userName gt null',
    ]) {
      throwsScim(() => compileUsers(bad), 'invalidFilter', bad);
    }
    throwsScim(
      () => compileFilter(parseFilter('userName eq "x"'), GROUP_RESOURCE, GROUP_ATTRS),
      'invalidFilter',
    );
  });

  it('compiles dates to timestamp parameters and value filters to EXISTS', () => {
    const q = compileUsers('meta.created gt "2026-01-01T00:00:00Z"');
    assert.ok(q.parameters[0] instanceof Date);
    assert.equal((q.parameters[0] as Date).toISOString(), '2026-01-01T00:00:00.000Z');
    assert.match(compileUsers('emails[type eq "work"]').sql, /exists \(select 1 from jsonb_array_elements/);
  });
});
