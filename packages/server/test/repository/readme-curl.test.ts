import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type TestServer, testServer } from '../helpers/harness.js';

/**
 * The README's shell examples run as written, in order, against a fresh Latchkey: every ```sh block
 * of "Try it with curl" and of "SCIM provisioning". Only the base URL changes (the test server's
 * port); `.latchkey/` in the working folder is the server's data folder, as after `npm start`.
 */

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const README_URL = 'http://localhost:8484';

/** The ```sh blocks between a heading and the next heading of the same or a higher level. */
function shBlocks(markdown: string, heading: string): string[] {
  const level = heading.split(' ')[0]!.length;
  const blocks: string[] = [];
  let inSection = false;
  let fence: string[] | null = null;
  let shell = false;
  for (const line of markdown.split('\n')) {
    if (fence) {
      if (line.startsWith('```')) {
        if (inSection && shell) blocks.push(fence.join('\n'));
        fence = null;
      } else fence.push(line);
      continue;
    }
    if (line.startsWith('```')) {
      fence = [];
      shell = line === '```sh';
      continue;
    }
    const h = /^(#+) /.exec(line);
    if (line === heading) inSection = true;
    else if (h && h[1]!.length <= level) inSection = false;
  }
  return blocks;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

let t: TestServer | undefined;
const cwd = mkdtempSync(join(tmpdir(), 'latchkey-readme-'));
after(async () => {
  await t?.close();
  rmSync(cwd, { recursive: true, force: true });
});

it("the README's curl examples work as written after the quick start", async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = [...shBlocks(readme, '### Try it with curl'), ...shBlocks(readme, '## SCIM provisioning')];
  assert.ok(blocks.length >= 4, `found ${blocks.length} blocks`);
  assert.ok(blocks.some((b) => b.includes('/org/scim/token')));

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  t = await testServer({ env: { PUBLIC_URL: base } });
  await t.app.listen({ port, host: '127.0.0.1' });
  symlinkSync(dirname(t.outboxDir), join(cwd, '.latchkey'));

  // Any refused request stops the script: curl fails on a 4xx or 5xx and shows the answer.
  const script = [
    'set -euo pipefail',
    'curl() { command curl -sS --fail-with-body "$@"; echo; }',
    ...blocks.map((b) => b.replaceAll(README_URL, base)),
  ].join('\n');
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('bash', ['-c', script], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
  assert.equal(r.code, 0, `the README's commands failed:\n${r.out}`);
  assert.match(r.out, /"email":"ada@example\.com"/);
  assert.match(r.out, /"email":"bob@example\.com"/, 'the invitation was sent');
  assert.match(r.out, /"token":"lk_scim_/, 'SCIM was turned on for the org');
});
