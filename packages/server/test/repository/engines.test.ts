import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const require = createRequire(join(ROOT, 'package.json'));
const semver = require('semver') as {
  satisfies(v: string, range: string): boolean;
  minVersion(range: string): { version: string } | null;
};

interface LockEntry {
  version?: string;
  engines?: { node?: string } | string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  link?: boolean;
  resolved?: string;
}
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockEntry>;
};

/**
 * Packages whose declared range is narrower than what they need. cookie 2 declares Node ≥ 22, but
 * it is ESM-only and what it needs is `require(esm)` for its CommonJS users (fastify's
 * light-my-request, @fastify/cookie), unflagged since Node 20.19 and 22.12 — the range Latchkey declares.
 */
const DECLARED_NARROWER: Record<string, string> = { 'cookie@2': '^20.19.0 || >=22.12.0' };

/** Where npm would resolve `name` from the package installed at `from` (node_modules lookup). */
function resolveFrom(from: string, name: string): string | null {
  let dir = from;
  for (;;) {
    const p = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (lock.packages[p]) return lock.packages[p].link ? (lock.packages[p].resolved ?? p) : p;
    if (!dir) return null;
    const at = dir.lastIndexOf('/node_modules/');
    dir = at >= 0 ? dir.slice(0, at) : '';
  }
}

/** Every installed package a workspace package needs at run time (its dependencies, transitively). */
function runtimeClosure(workspace: string): Map<string, LockEntry> {
  const seen = new Map<string, LockEntry>();
  const pending = [workspace];
  while (pending.length > 0) {
    const at = pending.pop()!;
    const entry = lock.packages[at]!;
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      const p = resolveFrom(at, name);
      if (!p || seen.has(p)) continue;
      seen.set(p, lock.packages[p]!);
      pending.push(p);
    }
  }
  return seen;
}

const nodeRange = (e: LockEntry) => (e.engines && !Array.isArray(e.engines) ? e.engines.node : undefined);

const WORKSPACES = ['packages/server', 'packages/sdk', 'packages/cli', 'examples/mcp-server'];

describe('engines: each package declares the Node versions its dependencies need', () => {
  for (const ws of WORKSPACES) {
    it(`${ws}: its oldest Node satisfies every run-time dependency`, () => {
      const own = JSON.parse(readFileSync(join(ROOT, ws, 'package.json'), 'utf8')) as {
        engines?: { node?: string };
      };
      const range = own.engines?.node;
      assert.ok(range, `${ws}/package.json declares engines.node`);
      const oldest = semver.minVersion(range)!.version;
      const unmet: string[] = [];
      for (const [path, entry] of runtimeClosure(ws)) {
        const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
        const major = entry.version?.split('.')[0];
        const needs = DECLARED_NARROWER[`${name}@${major}`] ?? nodeRange(entry);
        if (needs && !semver.satisfies(oldest, needs)) unmet.push(`${name}@${entry.version} needs ${needs}`);
      }
      assert.deepEqual(unmet, [], `${ws} declares ${range}, whose oldest (${oldest}) is too old for`);
    });
  }

  it('the repository root declares what the server needs, and this Node satisfies it', () => {
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    const server = JSON.parse(readFileSync(join(ROOT, 'packages/server/package.json'), 'utf8')) as {
      engines: { node: string };
    };
    assert.equal(root.engines.node, server.engines.node);
    assert.ok(semver.satisfies(process.versions.node, root.engines.node), process.versions.node);
  });
});
