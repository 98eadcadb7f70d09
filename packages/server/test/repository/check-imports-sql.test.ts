// test-backend: embedded — the subject is the layout of the source tree, not storage
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/check-imports.mjs');

function check(root: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [SCRIPT, '--root', root], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A feature whose SQL sits in its queries.ts and store/ files, called from its route files. */
const CLEAN: Record<string, string> = {
  'packages/server/src/db/executor.ts': 'export type Executor = { selectFrom(t: string): unknown };\n',
  'packages/server/src/orgs/queries.ts':
    "import type { Executor } from '../db/executor.js';\n" +
    "export const membersOf = (db: Executor, id: string) => db.selectFrom('memberships');\n",
  'packages/server/src/orgs/member-routes.ts':
    "import { membersOf } from './queries.js';\n" +
    '// Members are read by membersOf, not by db.selectFrom() here; a comment is no call.\n' +
    "export const list = (db: never) => membersOf(db, 'o');\n" +
    "export const text = 'db.deleteFrom(x) in a string is no call either';\n",
  'packages/server/src/oauth/store/tokens.ts':
    "import type { Executor } from '../../db/executor.js';\n" +
    "export const revoke = (db: Executor) => (db as any).updateTable('oauth_tokens');\n",
  'packages/server/src/oauth/manage/apps.ts':
    "import { revoke } from '../store/tokens.js';\nexport const r = revoke;\n",
  'scripts/import-baseline.json': '{ "violations": [] }\n',
};

describe('scripts/check-imports.mjs, rule sql: route files hold no SQL', () => {
  const dirs: string[] = [];
  const fixture = (files: Record<string, string>): string => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-sql-rule-'));
    dirs.push(dir);
    for (const [path, text] of Object.entries({ ...CLEAN, ...files })) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    return dir;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('passes SQL in queries.ts and store/, and a mention of a builder in a comment or a string', () => {
    const r = check(fixture({}));
    assert.equal(r.status, 0, r.out);
  });

  it('refuses a query built in a routes file, naming the file, the line and the builder', () => {
    const r = check(
      fixture({
        'packages/server/src/orgs/member-routes.ts':
          "export const gone = (db: any, id: string) =>\n  db.deleteFrom('memberships').where('id', '=', id).execute();\n",
      }),
    );
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /^sql: packages\/server\/src\/orgs\/member-routes\.ts:2 calls deleteFrom\(\)/m);
  });

  it('refuses every builder in endpoints/, manage/ and *-api.ts files, on a transaction too', () => {
    const r = check(
      fixture({
        'packages/server/src/oauth/endpoints/device-page.ts':
          "export const deny = (trx: any) => trx.updateTable('oauth_device_codes');\n",
        'packages/server/src/oauth/manage/apps.ts':
          "export const add = (db: any) => db\n  .insertInto('oauth_clients');\n",
        'packages/server/src/scim/users-api.ts':
          "export const one = (db: any) => db.selectFrom('scim_users');\n",
      }),
    );
    assert.equal(r.status, 1, r.out);
    assert.match(
      r.out,
      /^sql: packages\/server\/src\/oauth\/endpoints\/device-page\.ts:1 calls updateTable\(\)/m,
    );
    assert.match(r.out, /^sql: packages\/server\/src\/oauth\/manage\/apps\.ts:2 calls insertInto\(\)/m);
    assert.match(r.out, /^sql: packages\/server\/src\/scim\/users-api\.ts:1 calls selectFrom\(\)/m);
  });

  it('leaves SQL in a domain module alone (it is not an HTTP file)', () => {
    const r = check(
      fixture({
        'packages/server/src/orgs/invitations.ts':
          "export const open = (db: any) => db.selectFrom('invitations');\n",
      }),
    );
    assert.equal(r.status, 0, r.out);
  });
});
