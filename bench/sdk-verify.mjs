// A Fastify route protected by @latchkey/sdk (token verified, cache warm) vs the same route
// unprotected, in the same process, same run. Target: protected ≥ 0.9 × unprotected.
import Fastify from 'fastify';
import { createVerifier, fastifyHook, metadataUrl } from '../packages/sdk/dist/index.js';
import { compare, row, startServer, writeConfig } from './lib.mjs';
import { formPost, latchkeyClient, REDIRECT, RESOURCE, RS_ID, RS_SECRET, TOML } from './oauth-lib.mjs';

console.log('bench/sdk-verify');
const latchkey = await startServer({ LATCHKEY_CONFIG: writeConfig(TOML) });
const api = Fastify();
try {
  const lk = await latchkeyClient(latchkey.url);
  const [c] = await lk.codes(1);
  const { access_token: token } = await formPost(`${latchkey.url}/api/oauth/token`, {
    grant_type: 'authorization_code',
    code: c.code,
    code_verifier: c.verifier,
    redirect_uri: REDIRECT,
    client_id: lk.clientId,
    resource: RESOURCE,
  });
  const verifier = createVerifier({
    issuer: latchkey.url,
    resource: RESOURCE,
    credentials: { id: RS_ID, secret: RS_SECRET },
  });
  const guard = fastifyHook(verifier, { resourceMetadataUrl: metadataUrl(RESOURCE), scopes: ['mcp:read'] });
  api.get('/open', async () => ({ ok: true }));
  api.get('/protected', { preHandler: guard }, async () => ({ ok: true }));
  const url = await api.listen({ port: 0, host: '127.0.0.1' });
  // Both requests carry the token, as a client's do: the ratio is the cost of checking it.
  const headers = { authorization: `Bearer ${token}` };
  const r = await compare(url, { path: '/protected', headers }, { path: '/open', headers });
  console.log(row('GET /open (baseline)', r.baseline));
  console.log(row('GET /protected (SDK, cache warm)', r.target));
  console.log(
    `ratio protected/unprotected: ${r.rpsRatio.toFixed(2)} × req/s, ${r.p99Ratio.toFixed(2)} × p99 — target ≥ 0.9: ${r.rpsRatio >= 0.9 ? 'met' : 'NOT met'}`,
  );
  console.log(
    JSON.stringify({
      bench: 'sdk-verify',
      protected: r.target,
      baseline: r.baseline,
      rps_ratio: r.rpsRatio,
      p99_ratio: r.p99Ratio,
    }),
  );
} finally {
  await api.close();
  latchkey.stop();
}
