// GET /api/v1/audit at 1 000 000 events: the filtered first page (by action, by action family,
// by actor) against the unfiltered first page, on PostgreSQL, same server, same run.
// Target: each filter within 2 × the unfiltered page. Needs BENCH_DATABASE_URL (a PostgreSQL the
// bench may create a database on); the database is dropped at the end.
import pg from 'pg';
import { signup, startServer } from './lib.mjs';

const ROWS = Number(process.env.BENCH_AUDIT_ROWS ?? 1_000_000);
const admin = process.env.BENCH_DATABASE_URL;
if (!admin) {
  console.log('bench/audit-filter: set BENCH_DATABASE_URL (PostgreSQL) to run it; skipped');
  process.exit(0);
}
const name = `latchkey_bench_audit_${process.pid}`;
const root = new pg.Client({ connectionString: admin });
await root.connect();
await root.query(`create database ${name}`);
const url = new URL(admin);
url.pathname = `/${name}`;
let server = null;
try {
  server = await startServer({ DATABASE_URL: url.toString(), BENCH_DATABASE_URL: '' });
  const cookie = await signup(server.url);
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  // The one org of this fresh database: the personal org of the person who just signed up.
  const org = (await db.query('select id from orgs limit 1')).rows[0].id;
  // One statement: a million events over a year, 40 actions in 8 families, 200 actors.
  const started = performance.now();
  await db.query(
    `insert into audit_events (id, org_id, actor, action, target, created_at, data)
     select gen_random_uuid(), $1, 'user:' || lpad((g % 200)::text, 8, '0'),
            (array['member','token','oauth','sso','scim','org','session','agent'])[1 + g % 8]
              || '.' || (array['added','removed','updated','created','revoked'])[1 + (g / 8) % 5],
            null, now() - (g || ' seconds')::interval * 31, '{}'::jsonb
       from generate_series(1, $2) g`,
    [org, ROWS],
  );
  await db.query('analyze audit_events');
  console.log(
    `bench/audit-filter: ${ROWS} events inserted in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  await db.end();
  const h = { cookie, 'x-org-id': org };
  // One request at a time, median of many: the time a page takes, not the machine's throughput.
  const median = async (path) => {
    const times = [];
    for (let i = 0; i < 25; i++) {
      const t0 = performance.now();
      const res = await fetch(`${server.url}${path}`, { headers: h });
      if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
      await res.arrayBuffer();
      if (i >= 5) times.push(performance.now() - t0);
    }
    times.sort((x, y) => x - y);
    return times[Math.floor(times.length / 2)];
  };
  const results = {};
  let met = true;
  for (const [label, q] of [
    ['action', 'action=token.revoked'],
    ['family', 'action=member.*'],
    ['actor', 'actor=user:00000042'],
    ['action+actor', 'action=sso.updated&actor=user:00000011'],
  ]) {
    const base = await median('/api/v1/audit');
    const filtered = await median(`/api/v1/audit?${q}`);
    const ratio = filtered / base;
    console.log(
      `GET /api/v1/audit ${label.padEnd(13)} median ${filtered.toFixed(1).padStart(7)} ms; unfiltered ${base.toFixed(1).padStart(7)} ms; ratio ${ratio.toFixed(2)}`,
    );
    results[label] = { ms: filtered, unfiltered_ms: base, ratio };
    if (ratio > 2) met = false;
  }
  console.log(`target every filtered first page within 2 × the unfiltered one: ${met ? 'met' : 'NOT met'}`);
  console.log(JSON.stringify({ bench: 'audit-filter', rows: ROWS, ...results }));
} finally {
  server?.stop();
  await root.query(`drop database if exists ${name} with (force)`);
  await root.end();
}
