// POST /api/oauth/introspect: a resource server (HTTP Basic id:secret) introspecting a live access
// token, on Latchkey and on node-oidc-provider configured equivalently, in the same run.
// Target: Latchkey ≥ 1.5 × the peer's throughput at equal or better p99.
import autocannon from 'autocannon';
import { CONNECTIONS, DURATION_S, startPeer, startServer, writeConfig } from './lib.mjs';
import {
  formPost,
  latchkeyClient,
  peerCodes,
  REDIRECT,
  RESOURCE,
  RS_ID,
  RS_SECRET,
  TOML,
} from './oauth-lib.mjs';

async function measure(url, token, id, secret, seconds) {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token }).toString(),
  });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${url}: ${bad} failed requests of ${result.requests.total}`);
  return { rps: result.requests.average, p99: result.latency.p99 };
}

async function active(url, token, id, secret) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token }).toString(),
  });
  const body = await res.json();
  if (body.active !== true) throw new Error(`${url}: token not active: ${JSON.stringify(body)}`);
}

console.log('bench/introspect');
const latchkey = await startServer({ LATCHKEY_CONFIG: writeConfig(TOML) });
// Storage on both sides: embedded Latchkey vs the peer in memory by default; with BENCH_DATABASE_URL,
// Latchkey on PostgreSQL + Redis vs the peer on the same PostgreSQL (both durable).
const peer = await startPeer({
  RESOURCE,
  RS_SECRET,
  PEER_DATABASE_URL: process.env.BENCH_DATABASE_URL ?? '',
});
console.log(
  process.env.BENCH_DATABASE_URL
    ? 'shape: Latchkey on PostgreSQL + Redis; oidc-provider on the same PostgreSQL'
    : 'shape: Latchkey embedded (PGlite); oidc-provider in memory',
);
try {
  const lk = await latchkeyClient(latchkey.url);
  const [c] = await lk.codes(1);
  const ours = await formPost(`${latchkey.url}/api/oauth/token`, {
    grant_type: 'authorization_code',
    code: c.code,
    code_verifier: c.verifier,
    redirect_uri: REDIRECT,
    client_id: lk.clientId,
    resource: RESOURCE,
  });
  const [pc] = await peerCodes(peer.url, 1);
  const theirs = await formPost(`${peer.url}/token`, {
    grant_type: 'authorization_code',
    code: pc.code,
    code_verifier: pc.verifier,
    redirect_uri: REDIRECT,
    client_id: 'bench',
    resource: RESOURCE,
  });
  const lkUrl = `${latchkey.url}/api/oauth/introspect`;
  const peerUrl = `${peer.url}/token/introspection`;
  await active(lkUrl, ours.access_token, RS_ID, RS_SECRET);
  await active(peerUrl, theirs.access_token, 'rs', RS_SECRET);
  // Warm-up, then peer, Latchkey, peer: Latchkey is compared with the mean of the two peer runs.
  await measure(lkUrl, ours.access_token, RS_ID, RS_SECRET, 2);
  await measure(peerUrl, theirs.access_token, 'rs', RS_SECRET, 2);
  const p1 = await measure(peerUrl, theirs.access_token, 'rs', RS_SECRET, DURATION_S);
  const l = await measure(lkUrl, ours.access_token, RS_ID, RS_SECRET, DURATION_S);
  const p2 = await measure(peerUrl, theirs.access_token, 'rs', RS_SECRET, DURATION_S);
  const p = { rps: (p1.rps + p2.rps) / 2, p99: (p1.p99 + p2.p99) / 2 };
  const rps = l.rps / p.rps;
  const p99 = l.p99 / Math.max(p.p99, 0.1);
  console.log(`latchkey       ${l.rps.toFixed(0).padStart(7)} req/s p99 ${l.p99.toFixed(1).padStart(6)} ms`);
  console.log(`oidc-provider  ${p.rps.toFixed(0).padStart(7)} req/s p99 ${p.p99.toFixed(1).padStart(6)} ms`);
  console.log(
    `ratio latchkey/oidc-provider: ${rps.toFixed(2)} × req/s, ${p99.toFixed(2)} × p99 — target ≥ 1.5 × at ≤ 1 × p99: ${rps >= 1.5 && p99 <= 1 ? 'met' : 'NOT met'}`,
  );
  console.log(JSON.stringify({ bench: 'introspect', latchkey: l, peer: p, rps_ratio: rps, p99_ratio: p99 }));
} finally {
  latchkey.stop();
  peer.stop();
}
