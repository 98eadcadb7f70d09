// Scale: does Latchkey stay as fast with 100 000 live personal access tokens and 1 000 000 audit
// events as with 100 tokens and a hundred events? Two servers, each on its own database:
//   small — 100 personal access tokens (10 people in 1 org besides the bench person), 100 events;
//   large — 100 000 live personal access tokens (10 000 people, 10 each, in 1 000 orgs) and
//           1 000 000 audit events (half in the bench person's org, half spread over the others).
// On each: GET /api/v1/me with a personal access token, cache warm and cache disabled
// (AUTH_CACHE_ENTRIES=0: every request looks the token up by hash), and the org's audit log first
// page (GET /api/v1/audit). The token is a real one, minted through the API before the seeding;
// the seeded tokens are stored as the server stores them (SHA-256 of the plaintext, hex). The two
// servers are measured in alternating chunks (ABBA) so that both see the same machine load.
// Target: large ≥ 0.9 × small req/s for each.
// Embedded (PGlite) by default, each server filled through its data folder while stopped; with
// BENCH_DATABASE_URL (a PostgreSQL the bench may create databases on) + BENCH_REDIS_URL, on
// PostgreSQL + Redis, the databases dropped at the end. BENCH_SCALE_TOKENS / BENCH_SCALE_AUDIT set
// the large sizes, BENCH_SCALE_ROUNDS the chunks per server and measure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import {
  CONNECTIONS,
  createDatabase,
  DURATION_S,
  measure,
  signup,
  startServer,
  verifyEmail,
} from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 5);
const WARM_S = 2;
const TARGET = 0.9;
const admin = process.env.BENCH_DATABASE_URL;

const SIZES = [
  { label: 'small', tokens: 100, orgEvents: 100, otherEvents: 0 },
  (() => {
    const tokens = Number(process.env.BENCH_SCALE_TOKENS ?? 100_000);
    const events = Number(process.env.BENCH_SCALE_AUDIT ?? 1_000_000);
    return { label: 'large', tokens, orgEvents: Math.ceil(events / 2), otherEvents: Math.floor(events / 2) };
  })(),
];

// Seeded ids are derived from a counter (md5 → uuid), so that tokens and memberships can name their
// people and orgs in the same set-based statements. `$1` is the size's tag, unique per run.
const SEED = [
  // People: 10 personal access tokens each, all with proven addresses.
  `insert into users (id, email, name, email_verified_at, created_at, updated_at)
   select md5($1 || 'user' || g)::uuid, $1 || '-' || g || '@example.com', 'Person ' || g,
          now() - interval '1 day', now() - (g || ' minutes')::interval, now()
     from generate_series(0, $2::int / 10 - 1) g`,
  // Orgs: one per 10 people (at least one).
  `insert into orgs (id, slug, name, created_at, updated_at)
   select md5($1 || 'org' || g)::uuid, $1 || '-org-' || g, 'Org ' || g, now() - (g || ' minutes')::interval, now()
     from generate_series(0, greatest($2::int / 100, 1) - 1) g`,
  `insert into memberships (org_id, user_id, role, created_at)
   select md5($1 || 'org' || (g % greatest($2::int / 100, 1)))::uuid, md5($1 || 'user' || g)::uuid,
          case when g < greatest($2::int / 100, 1) then 'owner' else 'member' end, now()
     from generate_series(0, $2::int / 10 - 1) g`,
  // Live personal access tokens, hashed as the server hashes them: SHA-256 of the whole token
  // (lk_pat_<secret><checksum>), hex. The secrets are random; none of them is ever presented.
  `insert into api_tokens (id, kind, token_hash, prefix, name, scopes, user_id, created_by, created_by_user,
                           created_at, expires_at, last_used_at)
   select gen_random_uuid(), 'pat', encode(sha256(convert_to(t.token, 'UTF8')), 'hex'),
          substr(t.token, 1, 15), 'token ' || g, '["account:read"]'::jsonb,
          md5($1 || 'user' || (g / 10))::uuid, 'session', md5($1 || 'user' || (g / 10))::uuid,
          now() - (g % 80 || ' days')::interval, now() + ((10 + g % 80) || ' days')::interval,
          case when g % 3 = 0 then null else now() - (g % 1440 || ' minutes')::interval end
     from generate_series(0, $2::int - 1) g,
          lateral (select 'lk_pat_' || substr(md5(random()::text || g) || md5(random()::text), 1, 49) as token) t`,
];

// Events over a year, 40 actions in 8 families, 200 actors, 1 000 targets (as bench/audit-filter).
// `$1` the org, `$2` how many; the other orgs' events: `$1` the tag, `$2` how many, `$3` the orgs.
const EVENT = `(array['member','token','oauth','sso','scim','org','session','agent'])[1 + g % 8]
           || '.' || (array['added','removed','updated','created','revoked'])[1 + (g / 8) % 5]`;
const ORG_EVENTS = `insert into audit_events (id, org_id, actor, action, target, created_at, data)
  select gen_random_uuid(), $1, 'user:' || lpad((g % 200)::text, 8, '0'), ${EVENT},
         'app:' || (g % 1000), now() - (g || ' seconds')::interval * 31, '{"seeded":true}'::jsonb
    from generate_series(1, $2::int) g`;
const OTHER_EVENTS = `insert into audit_events (id, org_id, actor, action, target, created_at, data)
  select gen_random_uuid(), md5($1 || 'org' || (g % $3::int))::uuid, 'user:' || lpad((g % 200)::text, 8, '0'),
         ${EVENT}, 'app:' || (g % 1000), now() - (g || ' seconds')::interval * 31, '{"seeded":true}'::jsonb
    from generate_series(1, $2::int) g`;

/** Fills one database; `query(sql, params)` returns rows. */
async function fill(size, org, query) {
  const started = performance.now();
  const tag = `scale${process.pid}${size.label}`;
  for (const s of SEED) await query(s, [tag, size.tokens]);
  await query(ORG_EVENTS, [org, size.orgEvents]);
  if (size.otherEvents > 0)
    await query(OTHER_EVENTS, [tag, size.otherEvents, Math.max(Math.floor(size.tokens / 100), 1)]);
  // A database in service has been vacuumed (hint bits and visibility map set): so is this one, and
  // autovacuum does not start on the fresh million rows in the middle of the measurement.
  await query('vacuum analyze');
  const [{ tokens }] = await query(
    `select count(*)::int as tokens from api_tokens where kind = 'pat' and revoked_at is null and expires_at > now()`,
  );
  const [{ events }] = await query('select count(*)::int as events from audit_events');
  console.log(
    `  ${size.label}: ${tokens} live personal access tokens, ${events} audit events (filled in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
}

/**
 * One size's database, with a verified person, their personal org and a personal access token
 * minted through the API, then filled. Returns what starts a server over it.
 */
async function prepare(size) {
  let env;
  let cleanup;
  if (admin) {
    const created = await createDatabase(admin, `latchkey_bench_scale_${size.label}_${process.pid}`);
    cleanup = created.cleanup;
    env = { DATABASE_URL: created.url, BENCH_DATABASE_URL: '' };
  } else {
    const dir = mkdtempSync(join(tmpdir(), `latchkey-bench-scale-${size.label}-`));
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
    env = { LATCHKEY_DATA_DIR: dir };
  }
  try {
    return await mintAndFill(size, env, cleanup);
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function mintAndFill(size, env, cleanup) {
  let query;
  let done;
  const first = await startServer(env);
  const cookie = await signup(first.url);
  await verifyEmail(first.url, env.LATCHKEY_DATA_DIR ?? first.dataDir, cookie);
  const res = await fetch(`${first.url}/api/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: first.url, cookie },
    body: JSON.stringify({ name: 'bench', scopes: ['account:read', 'audit:read'] }),
  });
  if (res.status !== 201) throw new Error(`mint: ${res.status} ${await res.text()}`);
  const { token } = await res.json();
  const me = await (
    await fetch(`${first.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } })
  ).json();
  const org = me.orgs?.[0]?.id;
  if (!org) throw new Error(`/api/v1/me names no org: ${JSON.stringify(me)}`);
  first.stop();
  if (admin) {
    const db = new pg.Client({ connectionString: env.DATABASE_URL });
    await db.connect();
    query = async (s, p) => (await db.query(s, p)).rows;
    done = () => db.end();
  } else {
    // The embedded database belongs to the server process: fill its folder while it is stopped.
    await new Promise((r) => setTimeout(r, 1000)); // the killed process lets go of the folder
    const db = await PGlite.create({ dataDir: join(env.LATCHKEY_DATA_DIR, 'pgdata') });
    query = async (s, p) => (await db.query(s, p)).rows;
    done = () => db.close();
  }
  await fill(size, org, query);
  await done();
  return { ...size, env, cleanup, token, org, server: null, runs: {} };
}

const fmt = (m) => `${m.rps.toFixed(0).padStart(7)} req/s  p99 ${m.p99.toFixed(1).padStart(6)} ms`;

/** Alternating chunks (ABBA) of one request on both servers; each server's runs kept under `key`. */
async function alternate(key, path, headersOf) {
  for (const s of sizes) await measure(s.server.url, path, headersOf(s), WARM_S);
  for (const s of sizes) s.runs[key] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of r % 2 === 0 ? sizes : [...sizes].reverse()) {
      const run = await measure(s.server.url, path, headersOf(s));
      s.runs[key].push(run);
      console.log(`  ${key.padEnd(11)} round ${r + 1} ${s.label.padEnd(6)} ${fmt(run)}`);
    }
  }
}

/** Starts both servers over their databases with `env`; stops them when `fn` is done. */
async function withServers(env, fn) {
  for (const s of sizes) s.server = await startServer({ ...s.env, ...env });
  try {
    await fn();
  } finally {
    for (const s of sizes) s.server.stop();
    await new Promise((r) => setTimeout(r, 1000));
  }
}

console.log(
  `bench/scale (${admin ? 'PostgreSQL + Redis' : 'embedded'}; ${ROUNDS} chunks of ${DURATION_S} s per server and measure, ${CONNECTIONS} connections)`,
);
const sizes = [];
try {
  for (const size of SIZES) sizes.push(await prepare(size));
  const bearer = (s) => ({ authorization: `Bearer ${s.token}` });
  await withServers({}, async () => {
    await alternate('pat warm', '/api/v1/me', bearer);
    await alternate('audit page', '/api/v1/audit', (s) => ({ ...bearer(s), 'x-org-id': s.org }));
  });
  await withServers({ AUTH_CACHE_ENTRIES: '0' }, async () => {
    await alternate('pat cold', '/api/v1/me', bearer);
  });

  // Throughput: the mean of the chunks; p99 the mean of the chunks' p99. Each round measures both
  // servers back to back, so the median of the rounds' ratios is the one least moved by a burst of
  // load from elsewhere on the machine; both are printed, the target is judged on the first.
  const summary = (runs) => ({
    rps: runs.reduce((a, x) => a + x.rps, 0) / runs.length,
    p99: runs.reduce((a, x) => a + x.p99, 0) / runs.length,
  });
  const median = (xs) => {
    const s = [...xs].sort((x, y) => x - y);
    return (s[Math.floor((s.length - 1) / 2)] + s[Math.ceil((s.length - 1) / 2)]) / 2;
  };
  const [small, large] = sizes;
  const results = {};
  let met = true;
  for (const key of ['pat warm', 'pat cold', 'audit page']) {
    const a = summary(small.runs[key]);
    const b = summary(large.runs[key]);
    // autocannon's latencies are whole milliseconds: below 1 ms both count as 1.
    const ratio = { rps: b.rps / a.rps, p99: Math.max(b.p99, 1) / Math.max(a.p99, 1) };
    const perRound = median(large.runs[key].map((x, i) => x.rps / small.runs[key][i].rps));
    const ok = ratio.rps >= TARGET;
    if (!ok) met = false;
    console.log(`${key.padEnd(11)} small ${fmt(a)} | large ${fmt(b)}`);
    console.log(
      `${key.padEnd(11)} ratio large/small ${ratio.rps.toFixed(2)} × req/s (median of the rounds ${perRound.toFixed(2)} ×), ${ratio.p99.toFixed(2)} × p99 — ≥ ${TARGET}: ${ok ? 'met' : 'NOT met'}`,
    );
    results[key.replace(' ', '_')] = {
      small: a,
      large: b,
      rps_ratio: ratio.rps,
      rps_ratio_median_round: perRound,
      p99_ratio: ratio.p99,
    };
  }
  console.log(`target large ≥ ${TARGET} × small req/s on every measure: ${met ? 'met' : 'NOT met'}`);
  console.log(
    JSON.stringify({
      bench: 'scale',
      backend: admin ? 'postgres' : 'embedded',
      tokens: large.tokens,
      events: large.orgEvents + large.otherEvents,
      ...results,
    }),
  );
} finally {
  for (const s of sizes) s.server?.stop();
  await new Promise((r) => setTimeout(r, 500));
  for (const s of sizes) await s.cleanup();
}
