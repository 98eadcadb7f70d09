import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Whether git ignores `path` (relative to the repository root) by the repository's own rules. */
function ignored(path: string): boolean {
  const r = spawnSync('git', ['check-ignore', '--no-index', '-q', path], { cwd: ROOT });
  assert.ok(r.status === 0 || r.status === 1, `git check-ignore failed: ${r.stderr}`);
  return r.status === 0;
}

it('.gitignore keeps what a local Latchkey writes and its configuration out of commits', () => {
  for (const p of [
    'latchkey.toml',
    '.latchkey/secret.key',
    '.latchkey/outbox/0001-welcome.eml',
    '.latchkey/pgdata/PG_VERSION',
  ])
    assert.equal(ignored(p), true, `${p} is ignored`);
  for (const p of ['README.md', 'packages/server/src/main.ts']) assert.equal(ignored(p), false, p);
});
