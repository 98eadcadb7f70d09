import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  createQuota,
  createVerifier,
  fastifyHook,
  memoryQuotaStore,
  metadataUrl,
  tokenHash,
  type Verifier,
} from '../../../sdk/src/index.js';
import { type TestServer, testServer } from '../helpers/harness.js';
import { codeFor, signupAgent, verify } from './helpers.js';

const MCP_URL = 'https://tools.example.com/mcp';
const MCP_ID = 'tools';
const MCP_SECRET = 'tools-resource-secret-0123456789abcdef';
/** Small enough to spend in a test. */
const UNCLAIMED_CALLS = 2;

const TOML = `
[[resources]]
id = "${MCP_ID}"
url = "${MCP_URL}"
name = "Tools"
secret = "${MCP_SECRET}"
accept_api_tokens = true

[agent_plans.unclaimed]
mcp_calls_per_day = ${UNCLAIMED_CALLS}
`;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

describe('an agent key at an MCP route protected by @latchkey/sdk (a real listening Latchkey)', () => {
  let t: TestServer;
  let api: FastifyInstance;
  let verifier: Verifier;

  before(async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    t = await testServer({ toml: TOML, env: { PUBLIC_URL: issuer } });
    await t.app.listen({ port, host: '127.0.0.1' });
    verifier = createVerifier({
      issuer,
      resource: MCP_URL,
      credentials: { id: MCP_ID, secret: MCP_SECRET },
      acceptApiTokens: true,
      revocationStream: false,
    });
    const resourceMetadataUrl = metadataUrl(MCP_URL);
    const quota = createQuota({ store: memoryQuotaStore() });
    api = Fastify();
    api.post(
      '/write',
      { preHandler: fastifyHook(verifier, { resourceMetadataUrl, scopes: ['mcp:write'] }) },
      async () => ({ ok: true }),
    );
    api.post(
      '/read',
      { preHandler: fastifyHook(verifier, { resourceMetadataUrl, scopes: ['mcp:read'], quota }) },
      async (req) => ({ agent: (req as unknown as { latchkey: { agent?: unknown } }).latchkey.agent }),
    );
    await api.ready();
  });
  after(async () => {
    await api.close();
    verifier.close();
    t.app.server.closeAllConnections();
    await t.close();
  });

  const call = (path: string, key: string) =>
    api.inject({ method: 'POST', url: path, headers: { authorization: `Bearer ${key}` } });

  it('unclaimed: mcp:write is refused with 403 insufficient_scope; after verify it is served', async () => {
    const a = await signupAgent(t);
    const refused = await call('/write', a.api_key);
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json().error, 'insufficient_scope');
    assert.match(
      String(refused.headers['www-authenticate']),
      /error="insufficient_scope", scope="mcp:write"/,
    );

    assert.equal((await verify(t, a.api_key, await codeFor(t, a.human))).statusCode, 200);
    // The claim is published as a change to the key (what the revocation stream carries); a
    // verifier that follows the stream drops its cached answer on it, as forget() does here.
    const events = await t.deps.db
      .selectFrom('revocation_events')
      .select(['kind', 'value'])
      .where('value', '=', tokenHash(a.api_key))
      .execute();
    assert.deepEqual(events, [{ kind: 'token', value: tokenHash(a.api_key) }]);
    verifier.forget(tokenHash(a.api_key));
    const served = await call('/write', a.api_key);
    assert.equal(served.statusCode, 200, served.body);
  });

  it('the SDK reads agent {id, claimed} and spends the unclaimed mcp_calls_per_day budget', async () => {
    const a = await signupAgent(t);
    for (let i = 0; i < UNCLAIMED_CALLS; i++) {
      const ok = await call('/read', a.api_key);
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual(ok.json().agent, { id: a.agent_id, claimed: false });
    }
    const spent = await call('/read', a.api_key);
    assert.equal(spent.statusCode, 429, spent.body);
    assert.equal(spent.json().error, 'quota_exceeded');
  });
});
