#!/usr/bin/env node
// Runs every package's tests: once on the embedded backend (PGlite + in-process cache), and again on
// PostgreSQL + Redis when DATABASE_URL and REDIS_URL are set. Usage: npm test [-- <file filter>...]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = ['packages', 'examples']
  .map((d) => join(root, d))
  .filter(existsSync)
  .flatMap((d) => walk(d))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

// A migrated PGlite snapshot, rebuilt whenever a migration changes.
const migrationsDir = join(root, 'packages/server/src/db/migrations');
const hash = createHash('sha256');
for (const f of readdirSync(migrationsDir).sort())
  hash.update(f).update(readFileSync(join(migrationsDir, f)));
const cacheDir = join(root, '.test-cache');
mkdirSync(cacheDir, { recursive: true });
const template = join(cacheDir, `pglite-${hash.digest('hex').slice(0, 16)}.bin`);
if (!existsSync(template)) {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'packages/server/test/helpers/make-template.ts', template],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const backends = ['embedded'];
if (process.env.DATABASE_URL && process.env.REDIS_URL) backends.push('external');
else console.log('DATABASE_URL / REDIS_URL not set: running the embedded backend only.');

let failed = false;
for (const backend of backends) {
  console.log(
    `\n=== tests on the ${backend} backend (${backend === 'embedded' ? 'PGlite + memory' : 'PostgreSQL + Redis'}) ===\n`,
  );
  const started = Date.now();
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
    {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        LATCHKEY_TEST_BACKEND: backend,
        LATCHKEY_TEST_TEMPLATE: template,
        LOG_LEVEL: 'silent',
      },
    },
  );
  console.log(
    `=== ${backend}: ${r.status === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - started) / 1000)} s ===`,
  );
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
