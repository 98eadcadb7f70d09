// POST /api/oauth/token with grant_type=client_credentials (client_secret_basic, one RFC 8707
// resource, one scope), on Latchkey and on node-oidc-provider configured equivalently
// (bench/peer/oidc-provider.mjs: its clientCredentials feature, resource indicators, opaque access
// tokens), in the same run. Latchkey's client is a confidential org app an org admin created with
// grant_types [client_credentials]; the peer's is `bench-cc`. The same request is repeated for a
// fixed time, the two servers alternating in chunks (ABBA order) so that both see the same load.
// Embedded Latchkey vs the peer in memory by default; with BENCH_DATABASE_URL (+ BENCH_REDIS_URL)
// Latchkey on PostgreSQL + Redis vs the peer on the same PostgreSQL. BENCH_CC_ROUNDS sets the
// number of chunks per server. Target: Latchkey ≥ 1.5 × the peer's throughput at ≤ 1 × its p99.
import autocannon from 'autocannon';
import { CONNECTIONS, DURATION_S, signup, startPeer, startServer, verifyEmail, writeConfig } from './lib.mjs';
import { RESOURCE, RS_SECRET, TOML } from './oauth-lib.mjs';

const ROUNDS = Number(process.env.BENCH_CC_ROUNDS ?? 3);
const WARM_S = 2;
const SCOPE = 'mcp:read';
const PEER_SECRET = 'bench-client-credentials-secret-0123456789abcdef';
const BODY = new URLSearchParams({
  grant_type: 'client_credentials',
  resource: RESOURCE,
  scope: SCOPE,
}).toString();

// RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined.
const basic = (id, secret) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** A verified person's personal org, and in it a confidential app allowed client_credentials. */
async function latchkeyApp(server) {
  const { url } = server;
  const cookie = await signup(url);
  await verifyEmail(url, server.dataDir, cookie);
  const me = await (await fetch(`${url}/api/v1/me`, { headers: { cookie } })).json();
  const orgId = me.orgs?.[0]?.id;
  if (!orgId) throw new Error(`/api/v1/me names no org: ${JSON.stringify(me)}`);
  const res = await fetch(`${url}/api/v1/oauth/clients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, origin: url, 'x-org-id': orgId },
    body: JSON.stringify({
      name: 'Bench worker',
      type: 'confidential',
      grant_types: ['client_credentials'],
      scopes: ['mcp:read', 'mcp:run'],
    }),
  });
  const app = await res.json();
  if (res.status !== 201 || !app.client_secret)
    throw new Error(`create app: ${res.status} ${JSON.stringify(app)}`);
  return basic(app.client_id, app.client_secret);
}

/** One request by hand: the answer must be a bearer token for the scope asked, with no refresh token. */
async function checkOnce(label, tokenUrl, authorization) {
  const res = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
    body: BODY,
  });
  const body = await res.json();
  if (
    res.status !== 200 ||
    typeof body.access_token !== 'string' ||
    body.token_type?.toLowerCase() !== 'bearer' ||
    body.scope !== SCOPE ||
    body.refresh_token !== undefined
  )
    throw new Error(`${label}: ${res.status} ${JSON.stringify(body)}`);
}

/** Repeats the request for `seconds`; fails loudly on any answer that is not a 2xx token response. */
async function load(label, tokenUrl, authorization, seconds) {
  let missing = 0;
  const result = await autocannon({
    url: tokenUrl,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
        body: BODY,
        onResponse: (status, body) => {
          if (status < 200 || status >= 300 || !body.includes('"access_token"')) missing++;
        },
      },
    ],
  });
  const bad = result.non2xx + result.errors + result.timeouts + missing;
  if (bad > 0 || result.requests.total === 0)
    throw new Error(`${label}: ${bad} failed requests of ${result.requests.total}`);
  return { requests: result.requests.total, seconds: result.duration, p99: result.latency.p99 };
}

const fmt = (m) => `${m.rps.toFixed(0).padStart(6)} req/s p99 ${m.p99.toFixed(1).padStart(6)} ms`;

console.log(
  `bench/client-credentials (${ROUNDS} chunks of ${DURATION_S} s per server, ${CONNECTIONS} connections)`,
);
const config = writeConfig(TOML);
const [latchkey, peer] = await Promise.all([
  startServer({ LATCHKEY_CONFIG: config }),
  startPeer({
    RESOURCE,
    RS_SECRET,
    CC_SECRET: PEER_SECRET,
    PEER_DATABASE_URL: process.env.BENCH_DATABASE_URL ?? '',
  }),
]);
console.log(
  process.env.BENCH_DATABASE_URL
    ? 'shape: Latchkey on PostgreSQL + Redis; oidc-provider on the same PostgreSQL'
    : 'shape: Latchkey embedded (PGlite); oidc-provider in memory',
);
try {
  const servers = [
    {
      label: 'latchkey',
      tokenUrl: `${latchkey.url}/api/oauth/token`,
      auth: await latchkeyApp(latchkey),
      runs: [],
    },
    { label: 'oidc-provider', tokenUrl: `${peer.url}/token`, auth: basic('bench-cc', PEER_SECRET), runs: [] },
  ];
  for (const s of servers) {
    await checkOnce(s.label, s.tokenUrl, s.auth);
    await load(s.label, s.tokenUrl, s.auth, WARM_S);
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of r % 2 === 0 ? servers : [...servers].reverse()) {
      const run = await load(s.label, s.tokenUrl, s.auth, DURATION_S);
      s.runs.push(run);
      console.log(
        `  round ${r + 1} ${s.label.padEnd(14)} ${fmt({ rps: run.requests / run.seconds, p99: run.p99 })}`,
      );
    }
  }
  // Throughput over all chunks of a server; p99 the mean of its chunks' p99.
  const summary = (s) => ({
    rps: s.runs.reduce((a, x) => a + x.requests, 0) / s.runs.reduce((a, x) => a + x.seconds, 0),
    p99: s.runs.reduce((a, x) => a + x.p99, 0) / s.runs.length,
  });
  const ours = summary(servers[0]);
  const theirs = summary(servers[1]);
  console.log(`${'latchkey'.padEnd(16)} client_credentials ${fmt(ours)}`);
  console.log(`${'oidc-provider'.padEnd(16)} client_credentials ${fmt(theirs)}`);
  // autocannon's latencies are whole milliseconds: below 1 ms both count as 1.
  const ratio = { rps: ours.rps / theirs.rps, p99: Math.max(ours.p99, 1) / Math.max(theirs.p99, 1) };
  console.log(
    `ratio latchkey/oidc-provider client_credentials: ${ratio.rps.toFixed(2)} × req/s, ${ratio.p99.toFixed(2)} × p99 — target ≥ 1.5 × at ≤ 1 × p99: ${ratio.rps >= 1.5 && ratio.p99 <= 1 ? 'met' : 'NOT met'}`,
  );
  console.log(
    JSON.stringify({
      bench: 'client-credentials',
      shape: process.env.BENCH_DATABASE_URL ? 'postgres' : 'embedded',
      latchkey: ours,
      peer: theirs,
      ratio,
    }),
  );
} finally {
  latchkey.stop();
  peer.stop();
}
