import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EVENT_TYPES, unknownEventPatterns } from '../../src/webhooks/events.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('webhook event types', () => {
  it('name every action the server writes to the audit log, so an endpoint can ask for each', () => {
    const written = new Set<string>();
    for (const f of files(SRC)) {
      for (const line of readFileSync(f, 'utf8').split('\n')) {
        if (!/\baction\s*[:=]/.test(line)) continue;
        for (const m of line.matchAll(/'([a-z_]+\.[a-z_]+)'/g)) written.add(m[1]!);
      }
    }
    assert.ok(written.size > 50, `only ${written.size} actions found`);
    const missing = [...written].filter((a) => !EVENT_TYPES.includes(a)).sort();
    assert.deepEqual(missing, [], 'audit actions that endpoints cannot ask for');
  });

  it('accepts types, known families and *, and nothing else', () => {
    assert.deepEqual(unknownEventPatterns(['*', 'member.*', 'token.leak_revoked', 'webhook.disabled']), []);
    assert.deepEqual(unknownEventPatterns(['member', 'member.', 'nope.*', 'member.added ', '**']), [
      'member',
      'member.',
      'nope.*',
      'member.added ',
      '**',
    ]);
  });
});
