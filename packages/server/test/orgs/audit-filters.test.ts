import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { migrationNames } from '../../src/db/migrate.js';
import { type TestServer, testServer } from '../helpers/harness.js';
import { allPages, assertProblem, type AuditEvent, auditPage, stranger, team } from './helpers.js';

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

describe('audit filters read their own indexes', () => {
  it('registers every migration file, so the audit indexes exist on a fresh database', async () => {
    const dir = new URL('../../src/db/migrations/', import.meta.url);
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.slice(0, -3))
      .sort();
    assert.deepEqual([...migrationNames()].sort(), files);
    const { rows } = await sql<{ indexname: string }>`
      select indexname from pg_indexes
       where schemaname = current_schema() and tablename = 'audit_events'`.execute(t.deps.db);
    const names = rows.map((r) => r.indexname);
    for (const idx of [
      'audit_events_org_time_idx',
      'audit_events_org_action_time_idx',
      'audit_events_org_actor_time_idx',
      'audit_events_org_actor_action_time_idx',
      'audit_events_org_target_time_idx',
    ])
      assert.ok(names.includes(idx), `${idx} missing: ${names.join(', ')}`);
  });
});

describe('GET /api/v1/audit?target=', () => {
  /** Writes events straight into the log: `[action, actor, target]`, one second apart, oldest first. */
  async function seed(orgId: string, events: [string, string, string | null][]) {
    const start = Date.parse('2026-02-01T00:00:00Z');
    await t.deps.db
      .insertInto('audit_events')
      .values(
        events.map(([action, actor, target], i) => ({
          id: randomUUID(),
          org_id: orgId,
          actor,
          action,
          target,
          ip: null,
          user_agent: null,
          created_at: new Date(start + i * 1000),
          data: '{}',
          subject_user_id: null,
        })),
      )
      .execute();
  }

  it("lists the org's events about one target, newest first, with the other filters, never another org's", async () => {
    const h = await team(t);
    const other = await stranger(t, 'Other');
    await seed(h.org.id, [
      ['app.created', 'user:a', 'app:1'],
      ['app.updated', 'user:b', 'app:1'],
      ['app.created', 'user:a', 'app:2'],
      ['app.deleted', 'user:a', 'app:1'],
      ['token.created', 'user:b', null],
    ]);
    await seed(other.org.id, [['app.updated', 'user:a', 'app:1']]);
    const c = h.people.owner.client;
    const view = async (q: string) =>
      (await auditPage(c, h.org.id, q)).data.map((e) => `${e.action} ${e.actor} ${e.target}`);
    assert.deepEqual(await view('target=app:1'), [
      'app.deleted user:a app:1',
      'app.updated user:b app:1',
      'app.created user:a app:1',
    ]);
    assert.deepEqual(await view('target=app:1&actor=user:a'), [
      'app.deleted user:a app:1',
      'app.created user:a app:1',
    ]);
    assert.deepEqual(await view('target=app:1&action=app.*&actor=user:b'), ['app.updated user:b app:1']);
    assert.deepEqual(await view('target=app:1&action=app.created&actor=user:b'), []);
    assert.deepEqual(await view('action=app.created&actor=user:a'), [
      'app.created user:a app:2',
      'app.created user:a app:1',
    ]);
    assert.deepEqual(await view('target=app:3'), []);
    // Two at a time: the cursor walks the target's events without skipping or repeating one.
    const first = await auditPage(c, h.org.id, 'target=app:1&limit=2');
    assert.equal(first.data.length, 2);
    assert.ok(first.next_cursor);
    const second = await auditPage(
      c,
      h.org.id,
      `target=app:1&limit=2&cursor=${encodeURIComponent(first.next_cursor)}`,
    );
    assert.deepEqual(
      second.data.map((e) => e.action),
      ['app.created'],
    );
    assert.equal(second.next_cursor, null);
    // The other org sees only its own event about the same target.
    const theirs = await auditPage(other.client, other.org.id, 'target=app:1');
    assert.deepEqual(
      theirs.data.map((e) => e.action),
      ['app.updated'],
    );
  });

  it("pages an action family filtered by actor: only that actor's actions of the family, newest first", async () => {
    const h = await team(t);
    const other = await stranger(t, 'Other family');
    await seed(h.org.id, [
      ['member.added', 'user:a', null],
      ['member.removed', 'user:b', null],
      ['member.added', 'user:b', null],
      ['membership.added', 'user:b', null], // another family that shares the prefix's letters
      ['member.updated', 'user:a', null],
      ['token.created', 'user:b', null],
      ['member.removed', 'user:b', null],
    ]);
    await seed(other.org.id, [['member.added', 'user:b', null]]);
    const c = h.people.owner.client;
    const pages = await allPages<AuditEvent>(
      c,
      '/api/v1/audit',
      h.org.id,
      'action=member.*&actor=user:b&limit=1',
    );
    assert.deepEqual(
      pages.map((p) => p.map((e) => `${e.action} ${e.actor}`)),
      [['member.removed user:b'], ['member.added user:b'], ['member.removed user:b']],
    );
    assert.ok(pages.flat().every((e) => e.org_id === h.org.id));
    assert.deepEqual((await auditPage(c, h.org.id, 'action=member.*&actor=user:c')).data, []);
    assert.deepEqual((await auditPage(c, h.org.id, 'action=token.*&actor=user:a')).data, []);
  });

  it('refuses an empty or overlong target, and members without audit:read', async () => {
    const h = await team(t);
    const c = h.people.owner.client;
    assertProblem(await c.get('/api/v1/audit?target=', h.org.id), 400, 'invalid_request');
    assertProblem(await c.get(`/api/v1/audit?target=${'x'.repeat(201)}`, h.org.id), 400, 'invalid_request');
    const res = await h.people.member.client.get('/api/v1/audit?target=app:1', h.org.id);
    assert.equal(res.statusCode, 403, res.body);
  });
});
