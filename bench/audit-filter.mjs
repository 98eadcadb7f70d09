// GET /api/v1/audit at 1 000 000 events: the filtered first page (by action, action family, actor,
// target, action + actor, date range) against the unfiltered first page, same server, same run.
// Target: each filter within 2 × the unfiltered page. Embedded (PGlite) by default; with
// BENCH_DATABASE_URL (a PostgreSQL the bench may create a database on) on PostgreSQL, the database
// dropped at the end. BENCH_AUDIT_ROWS sets the number of events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { createDatabase, signup, startServer } from './lib.mjs';

const ROWS = Number(process.env.BENCH_AUDIT_ROWS ?? 1_000_000);
const admin = process.env.BENCH_DATABASE_URL;

// One statement: the events over a year, 40 actions in 8 families, 200 actors, 1 000 targets.
const INSERT = `insert into audit_events (id, org_id, actor, action, target, created_at, data)
  select gen_random_uuid(), $1, 'user:' || lpad((g % 200)::text, 8, '0'),
         (array['member','token','oauth','sso','scim','org','session','agent'])[1 + g % 8]
           || '.' || (array['added','removed','updated','created','revoked'])[1 + (g / 8) % 5],
         'app:' || (g % 1000), now() - (g || ' seconds')::interval * 31, '{}'::jsonb
    from generate_series(1, $2::int) g`;

/** Fills the one org's log; `query(sql, params)` returns rows. */
async function fill(query) {
  // The one org of this fresh database: the personal org of the person who signed up.
  const org = (await query('select id from orgs limit 1'))[0].id;
  const started = performance.now();
  await query(INSERT, [org, ROWS]);
  await query('analyze audit_events');
  console.log(
    `bench/audit-filter (${admin ? 'PostgreSQL' : 'embedded'}): ${ROWS} events inserted in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return org;
}

let server = null;
let cleanup = async () => {};
let cookie;
let org;
if (admin) {
  const created = await createDatabase(admin, `latchkey_bench_audit_${process.pid}`);
  cleanup = created.cleanup;
  const url = created.url;
  server = await startServer({ DATABASE_URL: url, BENCH_DATABASE_URL: '' });
  cookie = await signup(server.url);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  org = await fill(async (s, p) => (await db.query(s, p)).rows);
  await db.end();
} else {
  // The embedded database belongs to the server process: sign up, stop it, fill its data folder
  // with PGlite directly, then start it again over the same folder.
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-audit-'));
  cleanup = async () => rmSync(dir, { recursive: true, force: true });
  const first = await startServer({ LATCHKEY_DATA_DIR: dir });
  cookie = await signup(first.url);
  first.stop();
  await new Promise((r) => setTimeout(r, 1000)); // the killed process lets go of the folder
  const db = await PGlite.create({ dataDir: join(dir, 'pgdata') });
  org = await fill(async (s, p) => (await db.query(s, p)).rows);
  await db.close();
  server = await startServer({ LATCHKEY_DATA_DIR: dir });
}
try {
  const h = { cookie, 'x-org-id': org };
  // One request at a time, the unfiltered and the filtered page alternating request by request,
  // so that both see the same load on a shared machine; the medians of each (after a warm-up).
  const time = async (path) => {
    const t0 = performance.now();
    const res = await fetch(`${server.url}${path}`, { headers: h });
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    await res.arrayBuffer();
    return performance.now() - t0;
  };
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const pair = async (path) => {
    const base = [];
    const filtered = [];
    for (let i = 0; i < 45; i++) {
      const b = await time('/api/v1/audit');
      const f = await time(path);
      if (i < 5) continue;
      base.push(b);
      filtered.push(f);
    }
    return { base: median(base), filtered: median(filtered) };
  };
  const day = 86_400_000;
  const since = new Date(Date.now() - 60 * day).toISOString();
  const until = new Date(Date.now() - 30 * day).toISOString();
  const results = {};
  let met = true;
  for (const [label, q] of [
    ['action', 'action=token.revoked'],
    ['family', 'action=member.*'],
    ['actor', 'actor=user:00000042'],
    ['target', 'target=app:421'],
    // No event has both (sso.updated is never done by user:00000011): an empty page.
    ['action+actor', 'action=sso.updated&actor=user:00000011'],
    ['family+actor', 'action=session.*&actor=user:00000014'],
    ['date range', `since=${since}&until=${until}`],
  ]) {
    const { base, filtered } = await pair(`/api/v1/audit?${q}`);
    const ratio = filtered / base;
    console.log(
      `GET /api/v1/audit ${label.padEnd(13)} median ${filtered.toFixed(1).padStart(7)} ms; unfiltered ${base.toFixed(1).padStart(7)} ms; ratio ${ratio.toFixed(2)}`,
    );
    results[label] = { ms: filtered, unfiltered_ms: base, ratio };
    if (ratio > 2) met = false;
  }
  console.log(`target every filtered first page within 2 × the unfiltered one: ${met ? 'met' : 'NOT met'}`);
  console.log(
    JSON.stringify({
      bench: 'audit-filter',
      backend: admin ? 'postgres' : 'embedded',
      rows: ROWS,
      ...results,
    }),
  );
} finally {
  server?.stop();
  await new Promise((r) => setTimeout(r, 500));
  await cleanup();
}
