// test-backend: embedded — the subject is the layout of the source tree, not storage
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/check-imports.mjs');

function check(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function write(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

/** A small tree that keeps every rule, and a baseline with nothing in it. */
const CLEAN: Record<string, string> = {
  'packages/server/src/db/connection.ts': 'export const db = 1;\n',
  'packages/server/src/http/errors.ts': "import { db } from '../db/connection.js';\nexport const e = db;\n",
  'packages/server/src/oauth/routes.ts':
    "import type { FastifyInstance } from 'fastify';\nimport { e } from '../http/errors.js';\nexport const r = e;\n",
  'packages/server/src/accounts/users.ts':
    "import { db } from '../db/connection.js';\nexport const u = db;\n",
  'packages/server/src/orgs/queries.ts': "import { u } from '../accounts/users.js';\nexport const q = u;\n",
  'packages/server/src/main.ts':
    "import { r } from './oauth/routes.js';\nimport { q } from './orgs/queries.js';\n",
  'packages/server/test/helpers/harness.ts':
    "import { r } from '../../src/oauth/routes.js';\nexport const h = r;\n",
  // Another package's tests may use the server's test harness, by its package export; a commented
  // import is no import.
  'packages/server/package.json':
    '{ "name": "@latchkey/server", "exports": { "./testing": { "latchkey-source": "./test/testing.ts" } } }\n',
  'packages/server/test/testing.ts': "export { h } from './helpers/harness.js';\n",
  'packages/sdk/test/verify.test.ts': "import { h } from '@latchkey/server/testing';\n",
  'packages/sdk/src/index.ts':
    "// import { db } from '../../server/src/db/connection.js';\nexport const v = 1;\n",
  // The wire contract imports only itself, and every package may import it.
  'packages/contract/package.json': '{ "name": "@latchkey/contract" }\n',
  'packages/contract/src/errors.ts': "export const ERROR_CODES = ['not_found'] as const;\n",
  'packages/contract/src/index.ts': "export * from './errors.js';\n",
  'packages/server/src/errors.ts':
    "import type { ERROR_CODES } from '@latchkey/contract';\nexport type C = typeof ERROR_CODES;\n",
  'packages/cli/src/wire.ts':
    "import type { ERROR_CODES } from '@latchkey/contract';\nexport type C = typeof ERROR_CODES;\n",
  'packages/dashboard/src/api.ts':
    "import { ERROR_CODES } from '../../contract/src/index.js';\nexport const c = ERROR_CODES;\n",
  'scripts/import-baseline.json': '{ "violations": [] }\n',
};

describe('scripts/check-imports.mjs: the import rules of npm run lint', () => {
  const dirs: string[] = [];
  const fixture = (files: Record<string, string>): string => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-imports-'));
    dirs.push(dir);
    write(dir, { ...CLEAN, ...files });
    return dir;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('refuses an import cycle between server folders, naming the import that closes it', () => {
    const dir = fixture({
      'packages/server/src/accounts/users.ts':
        "import { db } from '../db/connection.js';\nimport type { q } from '../orgs/queries.js';\nexport const u = db;\n",
    });
    const r = check('--root', dir);
    assert.equal(r.status, 1, r.out);
    assert.match(
      r.out,
      /packages\/server\/src\/accounts\/users\.ts:2 imports orgs\/queries\.ts \(accounts → orgs\)/,
    );
    assert.match(
      r.out,
      /packages\/server\/src\/orgs\/queries\.ts:1 imports accounts\/users\.ts \(orgs → accounts\)/,
    );
    assert.match(r.out, /folders in one import cycle: accounts, orgs/);
  });

  it('refuses a cycle through a longer loop and through import() and export … from', () => {
    const dir = fixture({
      'packages/server/src/accounts/users.ts':
        "import { db } from '../db/connection.js';\nexport const u = db;\nexport const later = () => import('../oauth/routes.js');\n",
      'packages/server/src/oauth/routes.ts':
        "import { e } from '../http/errors.js';\nexport { q } from '../orgs/queries.js';\nexport const r = e;\n",
    });
    const r = check('--root', dir);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /accounts\/users\.ts:3 imports oauth\/routes\.ts \(accounts → oauth\)/);
    assert.match(r.out, /oauth\/routes\.ts:2 imports orgs\/queries\.ts \(oauth → orgs\)/);
    assert.match(r.out, /folders in one import cycle: accounts, oauth, orgs/);
  });

  it('refuses http/ importing a feature, even for a type', () => {
    const dir = fixture({
      'packages/server/src/http/app.ts':
        "import type { r } from '../oauth/routes.js';\nexport type R = typeof r;\n",
    });
    const r = check('--root', dir);
    assert.equal(r.status, 1, r.out);
    assert.match(
      r.out,
      /^layer: packages\/server\/src\/http\/app\.ts:1 imports oauth\/routes\.ts \(http → oauth\)/m,
    );
  });

  it('refuses db/ importing a feature, a migration importing app code, and src importing tests', () => {
    const dir = fixture({
      'packages/server/src/db/schema.ts': "import { u } from '../accounts/users.js';\nexport const s = u;\n",
      'packages/server/src/db/migrations/2026-01-01T0000-a.ts': "import { db } from '../connection.js';\n",
      'packages/server/src/orgs/slug.ts': "import { h } from '../../test/helpers/harness.js';\n",
    });
    const r = check('--root', dir);
    assert.equal(r.status, 1, r.out);
    assert.match(
      r.out,
      /^layer: packages\/server\/src\/db\/schema\.ts:1 imports accounts\/users\.ts \(db → accounts\)/m,
    );
    assert.match(
      r.out,
      /^migration: packages\/server\/src\/db\/migrations\/2026-01-01T0000-a\.ts:1 imports db\/connection\.ts/m,
    );
    assert.match(
      r.out,
      /^test-code: packages\/server\/src\/orgs\/slug\.ts:1 imports packages\/server\/test\/helpers\/harness\.ts \(server src → server test\)/m,
    );
  });

  it('refuses Fastify in a domain file, not in a routes file', () => {
    const dir = fixture({
      'packages/server/src/orgs/roles.ts':
        "import type { FastifyRequest } from 'fastify';\nexport type R = FastifyRequest;\n",
    });
    const r = check('--root', dir);
    assert.equal(r.status, 1, r.out);
    assert.match(
      r.out,
      /^fastify: packages\/server\/src\/orgs\/roles\.ts:1 imports fastify \(orgs → fastify\)/m,
    );
    assert.doesNotMatch(r.out, /oauth\/routes\.ts:1 imports fastify/);
  });

  it('refuses the SDK, the CLI or an example importing the server, by path or by package name, but for its tests through @latchkey/server/testing', () => {
    const dir = fixture({
      'packages/sdk/src/index.ts':
        "import { db } from '../../server/src/db/connection.js';\nexport const v = db;\n",
      'packages/cli/src/main.ts': "import { r } from '@latchkey/server';\n",
      'packages/cli/test/admin.test.ts': "import { db } from '../../server/src/db/connection.js';\n",
      'examples/mcp-server/src/server.ts':
        "import { h } from '../../../packages/server/test/helpers/harness.js';\n",
      // A test that goes around the harness's package export, even to the harness itself.
      'packages/dashboard/test/pages.test.ts': "import { h } from '../../server/test/helpers/harness.js';\n",
    });
    const r = check('--root', dir);
    assert.equal(r.status, 1, r.out);
    assert.match(
      r.out,
      /^package: packages\/sdk\/src\/index\.ts:1 imports packages\/server\/src\/db\/connection\.ts \(sdk src → server src\)/m,
    );
    assert.match(
      r.out,
      /^package: packages\/cli\/src\/main\.ts:1 imports packages\/server \(cli src → server\)/m,
    );
    assert.match(
      r.out,
      /^package: packages\/cli\/test\/admin\.test\.ts:1 imports .* \(cli test → server src\)/m,
    );
    assert.match(
      r.out,
      /^package: examples\/mcp-server\/src\/server\.ts:1 .*\(examples\/mcp-server src → server test\)/m,
    );
    assert.match(
      r.out,
      /^package: packages\/dashboard\/test\/pages\.test\.ts:1 imports .* \(dashboard test → server test\)/m,
    );
    assert.doesNotMatch(r.out, /sdk\/test\/verify\.test\.ts/);
  });

  it('refuses the wire contract importing anything outside itself: a package of ours, a dependency, a built-in', () => {
    const dir = fixture({
      'packages/contract/src/index.ts':
        "export * from './errors.js';\nimport type { db } from '../../server/src/db/connection.js';\n" +
        "import type { Command } from 'commander';\nimport { v } from '@latchkey/sdk';\nimport 'node:crypto';\n",
    });
    const r = check('--root', dir);
    assert.equal(r.status, 1, r.out);
    assert.match(
      r.out,
      /^contract: packages\/contract\/src\/index\.ts:2 imports packages\/server\/src\/db\/connection\.ts \(contract → server\)/m,
    );
    assert.match(
      r.out,
      /^contract: packages\/contract\/src\/index\.ts:3 imports commander \(contract → commander\)/m,
    );
    assert.match(
      r.out,
      /^contract: packages\/contract\/src\/index\.ts:4 imports packages\/sdk \(contract → sdk\)/m,
    );
    assert.match(
      r.out,
      /^contract: packages\/contract\/src\/index\.ts:5 imports node:crypto \(contract → node:crypto\)/m,
    );
    assert.doesNotMatch(r.out, /index\.ts:1 imports/);
    assert.doesNotMatch(r.out, /^(package|contract): packages\/(server|cli|dashboard)\//m);
  });

  it('refuses a server folder that has no layer', () => {
    const dir = fixture({ 'packages/server/src/billing/plans.ts': 'export const p = 1;\n' });
    const r = check('--root', dir);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /unknown folder: packages\/server\/src\/billing has no layer/);
  });

  it('accepts what the baseline lists, and refuses a baseline entry that no longer occurs', () => {
    const dir = fixture({
      'packages/server/src/http/app.ts': "import { u } from '../accounts/users.js';\nexport const a = u;\n",
    });
    assert.equal(check('--root', dir).status, 1);
    const updated = check('--root', dir, '--update');
    assert.equal(updated.status, 0, updated.out);
    const baseline = JSON.parse(readFileSync(join(dir, 'scripts/import-baseline.json'), 'utf8')) as {
      violations: { rule: string; from: string; to: string }[];
    };
    assert.deepEqual(
      baseline.violations.map((v) => `${v.rule} ${v.from} ${v.to}`),
      ['layer http accounts'],
    );
    const accepted = check('--root', dir);
    assert.equal(accepted.status, 0, accepted.out);

    // The import is fixed: its entry must go, so the list only shrinks.
    write(dir, { 'packages/server/src/http/app.ts': 'export const a = 1;\n' });
    const stale = check('--root', dir);
    assert.equal(stale.status, 1, stale.out);
    assert.match(
      stale.out,
      /stale baseline entry: layer http → accounts no longer occurs: remove it from the baseline/,
    );
  });

  it('passes on a tree that keeps every rule', () => {
    const r = check('--root', fixture({}));
    assert.equal(r.status, 0, r.out);
  });

  it("passes on Latchkey's own tree: no violation beyond scripts/import-baseline.json, none of it stale", () => {
    const r = check();
    assert.equal(r.status, 0, r.out);
  });
});
