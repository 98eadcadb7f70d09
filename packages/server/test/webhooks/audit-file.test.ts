import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { audit } from '../../src/audit/log.js';
import { systemClock } from '../../src/lib/clock.js';
import { testServer } from '../helpers/harness.js';
import { openTestStorage, type TestStorage } from '../helpers/storage.js';
import { waitFor } from './helpers.js';

interface Line {
  id: string;
  org_id: string | null;
  actor: string;
  action: string;
  target: string | null;
  created_at: string;
  data: Record<string, unknown>;
}

describe('AUDIT_LOG_FILE: audit events as JSON lines', () => {
  let storage: TestStorage;
  let dir: string;
  let file: string;
  const lines = (): Line[] => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line);
  };
  before(async () => {
    storage = await openTestStorage();
    dir = mkdtempSync(join(tmpdir(), 'latchkey-audit-file-'));
    file = join(dir, 'audit.jsonl');
  });
  after(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('appends every event once, in order, and carries on after a restart without repeating or skipping', async () => {
    const env = { AUDIT_LOG_FILE: file };
    const first = await testServer({ storage, env });
    const owner = first.client();
    const { user } = await owner.signup({ name: 'Owner' });
    const pat = await owner.post('/api/v1/tokens', { name: 'ci' });
    assert.equal(pat.statusCode, 201, pat.body);
    await waitFor('the token event in the file', () =>
      lines().some((l) => l.action === 'token.created' && l.actor === `user:${user.id}`),
    );
    await first.close();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const before0 = lines();
    const signup = before0.find((l) => l.action === 'user.signup')!;
    assert.equal(signup.target, `user:${user.id}`);

    // Events written while no server runs are written by the next one, after the ones already there.
    const actor = `system:${crypto.randomUUID()}`;
    for (let i = 0; i < 3; i++)
      await audit(
        storage.storage.db,
        systemClock,
        { actor, ip: null, userAgent: null },
        { orgId: null, action: 'org.updated', data: { i } },
      );
    const second = await testServer({ storage, env });
    try {
      await waitFor(
        'the events written meanwhile',
        () => lines().filter((l) => l.actor === actor).length === 3,
      );
      const all = lines();
      assert.deepEqual(all.slice(0, before0.length), before0);
      assert.deepEqual(
        all.filter((l) => l.actor === actor).map((l) => l.data.i),
        [0, 1, 2],
      );
      const ids = all.map((l) => l.id);
      assert.equal(new Set(ids).size, ids.length, 'an event was written twice');
      assert.deepEqual([...ids].sort(), ids, 'events out of order');
      // What the audit log holds, and no credential.
      assert.ok(!readFileSync(file, 'utf8').includes(pat.json().token));
      const inDb = await storage.storage.db
        .selectFrom('audit_events')
        .select('id')
        .where('id', '>=', all[0]!.id)
        .where('id', '<=', all[all.length - 1]!.id)
        .orderBy('id')
        .execute();
      assert.deepEqual(
        ids,
        inDb.map((r) => r.id),
      );
    } finally {
      await second.close();
    }
  });
});
