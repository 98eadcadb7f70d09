// GET /api/v1/me with a personal access token: cache warm (default) and cache disabled
// (AUTH_CACHE_ENTRIES=0: every request validates against the database), each against GET /healthz
// on the same server, same run. Targets: warm ≥ 0.8 ×, disabled ≥ 0.25 × the trivial route.
//
// Why /api/v1/me: it is the cheapest authenticated route there is. Besides validating the token it
// lists the person's orgs and what the token may do in each (the memberships: cached beside the
// credential when warm); every other authenticated GET reads a table of its own or enforces an
// org's policy. With the cache disabled a request costs one database statement: the token by hash
// (an indexed read, joined to its holder, returning the person's orgs beside it); `last_used_at` is
// written at most once a minute per token, and usage counts in batches, both off the request path.
import { compare, row, signup, startServer, verifyEmail } from './lib.mjs';

async function run(label, env) {
  const server = await startServer(env);
  try {
    const cookie = await signup(server.url);
    await verifyEmail(server.url, server.dataDir, cookie);
    const res = await fetch(`${server.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: server.url, cookie },
      body: JSON.stringify({ name: 'bench', scopes: ['account:read'] }),
    });
    if (res.status !== 201) throw new Error(`mint: ${res.status}`);
    const { token } = await res.json();
    const r = await compare(
      server.url,
      { path: '/api/v1/me', headers: { authorization: `Bearer ${token}` } },
      { path: '/healthz' },
    );
    console.log(row(`GET /healthz (baseline, ${label})`, r.baseline));
    console.log(row(`GET /api/v1/me PAT (${label})`, r.target));
    console.log(`ratio ${label}/baseline: ${r.rpsRatio.toFixed(2)} × req/s, ${r.p99Ratio.toFixed(2)} × p99`);
    return r;
  } finally {
    server.stop();
  }
}

console.log('bench/token-validate');
const warm = await run('cache warm', {});
const cold = await run('cache disabled', { AUTH_CACHE_ENTRIES: '0' });
console.log(
  `target warm ≥ 0.80 × baseline: ${warm.rpsRatio >= 0.8 ? 'met' : 'NOT met'} (${warm.rpsRatio.toFixed(2)})`,
);
console.log(
  `target disabled ≥ 0.25 × baseline: ${cold.rpsRatio >= 0.25 ? 'met' : 'NOT met'} (${cold.rpsRatio.toFixed(2)})`,
);
console.log(
  JSON.stringify({
    bench: 'token-validate',
    warm: { ...warm.target, baseline: warm.baseline, rps_ratio: warm.rpsRatio, p99_ratio: warm.p99Ratio },
    cold: { ...cold.target, baseline: cold.baseline, rps_ratio: cold.rpsRatio, p99_ratio: cold.p99Ratio },
  }),
);
