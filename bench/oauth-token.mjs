// POST /api/oauth/token: authorization-code exchange and refresh-token rotation, on Latchkey and on
// node-oidc-provider configured equivalently (bench/peer/oidc-provider.mjs), in the same run.
// Codes and refresh tokens are single use, so each run posts a fixed number of fresh ones: codes
// minted beforehand (untimed), then each refresh token the measured exchanges handed out, once.
// BENCH_OAUTH_N sets how many per server, measured in BENCH_OAUTH_ROUNDS chunks that alternate
// between the two servers (ABBA order) so that both see the same load on a shared machine. Target: Latchkey ≥ 1.5 × the peer's throughput at equal or better p99
// with both on the same PostgreSQL; ≥ 1.0 × with Latchkey embedded (durable) and the peer in memory.
import { measureForms, startPeer, startServer, writeConfig } from './lib.mjs';
import { latchkeyClient, peerCodes, REDIRECT, RESOURCE, RS_SECRET, TOML } from './oauth-lib.mjs';

const N = Number(process.env.BENCH_OAUTH_N ?? 4000);
const ROUNDS = Number(process.env.BENCH_OAUTH_ROUNDS ?? 4);
const WARM = Number(process.env.BENCH_OAUTH_WARM ?? 200);

const exchangeBody = (clientId, c) =>
  new URLSearchParams({
    grant_type: 'authorization_code',
    code: c.code,
    code_verifier: c.verifier,
    redirect_uri: REDIRECT,
    client_id: clientId,
    resource: RESOURCE,
  }).toString();

const refreshBody = (clientId, rt) =>
  new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt, client_id: clientId }).toString();

/** Exchanges `codes`, then rotates each refresh token those exchanges handed out, once. */
async function exchangeThenRefresh(tokenUrl, clientId, codes) {
  const refreshTokens = [];
  const exchange = await measureForms(
    tokenUrl,
    '',
    codes.map((c) => exchangeBody(clientId, c)),
    {},
    (body) => refreshTokens.push(JSON.parse(body).refresh_token),
  );
  if (refreshTokens.length !== codes.length || refreshTokens.some((t) => typeof t !== 'string'))
    throw new Error(`${tokenUrl}: ${refreshTokens.length} refresh tokens from ${codes.length} exchanges`);
  const refresh = await measureForms(
    tokenUrl,
    '',
    refreshTokens.map((t) => refreshBody(clientId, t)),
  );
  return { exchange, refresh };
}

/** Throughput over all of a server's chunks (requests ÷ time), p99 the mean of the chunks' p99. */
function combine(chunks) {
  const n = chunks.reduce((a, c) => a + c.n, 0);
  const seconds = chunks.reduce((a, c) => a + c.n / c.rps, 0);
  return { rps: n / seconds, p99: chunks.reduce((a, c) => a + c.p99, 0) / chunks.length };
}

/**
 * Both operations on both servers, in ROUNDS chunks of N / ROUNDS each, alternating (ABBA): the
 * refresh tokens rotated in a chunk are those its exchanges handed out (each used once). Codes are
 * minted before each chunk, untimed.
 */
async function measureBoth(servers) {
  const per = Math.ceil(N / ROUNDS);
  const chunks = servers.map(() => ({ exchange: [], refresh: [] }));
  // Warm-up (JIT, caches) of both operations on both.
  for (const s of servers) await exchangeThenRefresh(s.tokenUrl, s.clientId, await s.mintCodes(WARM));
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) {
      const s = servers[i];
      const { exchange, refresh } = await exchangeThenRefresh(s.tokenUrl, s.clientId, await s.mintCodes(per));
      chunks[i].exchange.push({ ...exchange, n: per });
      chunks[i].refresh.push({ ...refresh, n: per });
    }
  }
  return servers.map((s, i) => {
    const out = { exchange: combine(chunks[i].exchange), refresh: combine(chunks[i].refresh) };
    console.log(
      `${s.label.padEnd(16)} code exchange ${out.exchange.rps.toFixed(0).padStart(6)} req/s p99 ${out.exchange.p99.toFixed(1).padStart(6)} ms   refresh ${out.refresh.rps.toFixed(0).padStart(6)} req/s p99 ${out.refresh.p99.toFixed(1).padStart(6)} ms`,
    );
    return out;
  });
}

console.log(
  `bench/oauth-token (${N} fresh codes and refresh tokens per server, in ${ROUNDS} alternating chunks)`,
);
const config = writeConfig(TOML);
// Storage on both sides: embedded Latchkey vs the peer in memory by default; with BENCH_DATABASE_URL,
// Latchkey on PostgreSQL + Redis vs the peer on the same PostgreSQL (both durable).
const [latchkey, peer] = await Promise.all([
  startServer({ LATCHKEY_CONFIG: config }),
  startPeer({ RESOURCE, RS_SECRET, PEER_DATABASE_URL: process.env.BENCH_DATABASE_URL ?? '' }),
]);
console.log(
  process.env.BENCH_DATABASE_URL
    ? 'shape: Latchkey on PostgreSQL + Redis; oidc-provider on the same PostgreSQL'
    : 'shape: Latchkey embedded (PGlite); oidc-provider in memory',
);
try {
  const lk = await latchkeyClient(latchkey.url);
  const [ours, theirs] = await measureBoth([
    {
      label: 'latchkey',
      tokenUrl: `${latchkey.url}/api/oauth/token`,
      clientId: lk.clientId,
      mintCodes: lk.codes,
    },
    {
      label: 'oidc-provider',
      tokenUrl: `${peer.url}/token`,
      clientId: 'bench',
      mintCodes: (n) => peerCodes(peer.url, n),
    },
  ]);
  const ratio = (op) => ({
    rps: ours[op].rps / theirs[op].rps,
    p99: ours[op].p99 / Math.max(theirs[op].p99, 0.1),
  });
  const target = process.env.BENCH_DATABASE_URL ? 1.5 : 1.0;
  for (const op of ['exchange', 'refresh']) {
    const r = ratio(op);
    console.log(
      `ratio latchkey/oidc-provider ${op}: ${r.rps.toFixed(2)} × req/s, ${r.p99.toFixed(2)} × p99 — target ≥ ${target.toFixed(1)} × at ≤ 1 × p99: ${r.rps >= target && r.p99 <= 1 ? 'met' : 'NOT met'}`,
    );
  }
  console.log(
    JSON.stringify({
      bench: 'oauth-token',
      latchkey: ours,
      peer: theirs,
      exchange: ratio('exchange'),
      refresh: ratio('refresh'),
    }),
  );
} finally {
  latchkey.stop();
  peer.stop();
}
