#!/usr/bin/env node
// Builds and bundles the server, then runs every bench/*.mjs (or those named: npm run bench -- token-validate).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const build = spawnSync('npx', ['tsc', '-b', 'packages/server', 'packages/sdk'], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) process.exit(build.status ?? 1);
// The benches run the server as `npm start` does: the bundle (scripts/bundle-server.mjs).
const bundle = spawnSync(process.execPath, [join(root, 'scripts/bundle-server.mjs')], { stdio: 'inherit' });
if (bundle.status !== 0) process.exit(bundle.status ?? 1);

const wanted = process.argv.slice(2);
const benches = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.mjs') && f !== 'lib.mjs')
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();
let failed = false;
for (const b of benches) {
  console.log(`\n## ${b}`);
  const r = spawnSync(process.execPath, [join(root, 'bench', b)], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
