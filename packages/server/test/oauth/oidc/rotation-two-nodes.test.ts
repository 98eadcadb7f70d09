// test-backend: external — needs a PostgreSQL and Redis shared by two nodes
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { createVerifier, type Verifier, VerifyError } from '../../../../sdk/src/index.js';
import { openCache } from '../../../src/cache/index.js';
import { openStorage } from '../../../src/db/connection.js';
import { DAY, manualClock, MINUTE } from '../../../src/lib/clock.js';
import { NEXT_KEY_LEAD_MS, RETIRED_KEY_GRACE_MS, rotateKey } from '../../../src/oauth/oidc/keys.js';
import { runKeyTick } from '../../../src/oauth/oidc/schedule.js';
import { Client, PUBLIC_URL, type TestServer, testServer } from '../../helpers/harness.js';
import { BACKEND, openTestStorage, type TestStorage } from '../../helpers/storage.js';
import { form, MCP_ID, MCP_SECRET, MCP_URL, OAUTH_TOML, tokensFor } from '../helpers.js';

// Signing-key rotation on two nodes sharing PostgreSQL and Redis, on one controlled clock: ID
// tokens and JWT access tokens signed before the next key is published, while it is published, and
// after the rotation, on either node, verify against the JWKS that EITHER node serves (jose) and
// with @latchkey/sdk pointed at either node, until they expire; the two nodes always sign with the
// same key; once the retired key's grace is over it is gone from both JWK Sets and its tokens are
// refused.

const external = BACKEND === 'external';
const TOML = OAUTH_TOML.replace(`secret = "${MCP_SECRET}"`, `secret = "${MCP_SECRET}"\ntoken_format = "jwt"`);
const silent = { info: () => {}, error: () => {} };

interface Node {
  name: string;
  t: TestServer;
  /** Where this node listens: the JWKS is fetched from here over HTTP. */
  url: string;
  /** An SDK verifier that lives through the whole rotation (its JWKS cache goes stale on the way). */
  sdk: Verifier;
}

interface Minted {
  on: string;
  clientId: string;
  idToken: string;
  accessToken: string;
}

const kidOf = (jwt: string) => decodeProtectedHeader(jwt).kid;

async function until(cond: () => Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  // Well under the 30 s a node keeps its keys: only the pub/sub announcement can make this pass.
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe(
  'signing-key rotation on two nodes sharing PostgreSQL and Redis',
  { skip: external ? false : 'needs shared PostgreSQL and Redis' },
  () => {
    const clock = manualClock(new Date());
    const start = clock.now().getTime();
    let shared: TestStorage;
    let second: TestStorage;
    let a: Node;
    let b: Node;
    const verifiers: Verifier[] = [];

    /** The SDK as a resource server would run it, its requests sent to `node` over HTTP. */
    const sdkFor = (url: string) => {
      const v = createVerifier({
        issuer: PUBLIC_URL,
        resource: MCP_URL,
        credentials: { id: MCP_ID, secret: MCP_SECRET },
        revocationStream: false,
        now: () => clock.now().getTime(),
        fetch: ((input: string | URL | Request, init?: RequestInit) =>
          fetch(
            String(input instanceof Request ? input.url : input).replace(PUBLIC_URL, url),
            init,
          )) as typeof fetch,
      });
      verifiers.push(v);
      return v;
    };

    async function node(name: string, storage: TestStorage): Promise<Node> {
      const t = await testServer({ clock, toml: TOML, storage });
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
      return { name, t, url, sdk: sdkFor(url) };
    }

    before(async () => {
      if (!external) return;
      shared = await openTestStorage();
      // Node B: its own database pool and Redis connections, on the same schema and key prefix.
      const bStorage = await openStorage({ databaseUrl: shared.databaseUrl!, poolSize: 5 });
      const bCache = await openCache({ redisUrl: shared.redisUrl!, prefix: shared.redisPrefix! });
      second = {
        storage: bStorage,
        cache: bCache,
        databaseUrl: shared.databaseUrl,
        redisUrl: shared.redisUrl,
        redisPrefix: shared.redisPrefix,
        async close() {
          await bCache.close();
          await bStorage.close();
        },
      };
      a = await node('A', shared);
      b = await node('B', second);
    });
    after(async () => {
      if (!external) return;
      for (const v of verifiers) v.close();
      for (const n of [a, b]) {
        if (!n) continue;
        n.t.app.server.closeAllConnections();
        await n.t.close();
      }
      await second?.close();
      await shared?.close();
    });

    /** A person signed up (and verified) on A, with a browser session usable on either node. */
    async function person(): Promise<Record<'A' | 'B', Client>> {
      const onA = a.t.client();
      await onA.signup();
      const onB = new Client(b.t.app, onA.ip);
      onB.cookie = onA.cookie;
      return { A: onA, B: onB };
    }

    /** An ID token and a JWT access token (for the jwt resource) minted on `n`. */
    async function mint(n: Node, who: Record<'A' | 'B', Client>): Promise<Minted> {
      const { client, tokens } = await tokensFor(n.t, who[n.name as 'A' | 'B'], { scope: 'openid mcp:read' });
      const idToken = (tokens as { id_token?: string }).id_token;
      assert.ok(idToken, `node ${n.name} returned an ID token`);
      assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
      assert.equal(kidOf(idToken), kidOf(tokens.access_token), 'one key signs both');
      return { on: n.name, clientId: client.client_id, idToken, accessToken: tokens.access_token };
    }

    /** Mints on both nodes; they must sign with the same key, which is returned. */
    async function agreedKid(who: Record<'A' | 'B', Client>, expected?: string): Promise<[Minted, Minted]> {
      const onA = await mint(a, who);
      const onB = await mint(b, who);
      assert.equal(kidOf(onA.idToken), kidOf(onB.idToken), 'nodes A and B sign with the same key');
      if (expected) assert.equal(kidOf(onA.idToken), expected);
      return [onA, onB];
    }

    async function jwksKids(n: Node): Promise<string[]> {
      const res = await fetch(`${n.url}/.well-known/jwks.json`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { keys: { kid: string; d?: string }[] };
      assert.ok(
        body.keys.every((k) => k.d === undefined),
        'no private part',
      );
      return body.keys.map((k) => k.kid).sort();
    }

    /** Every token verifies against each node's JWKS (jose) and with the SDK pointed at each node. */
    async function verifiesEverywhere(tokens: Minted[]): Promise<void> {
      const currentDate = clock.now();
      for (const n of [a, b]) {
        // A fresh remote set each time: jose's own cache must not hide what the node serves now.
        const jwks = createRemoteJWKSet(new URL(`${n.url}/.well-known/jwks.json`));
        const fresh = sdkFor(n.url);
        for (const m of tokens) {
          const what = `a token minted on ${m.on} (kid ${kidOf(m.idToken)}) against node ${n.name}`;
          const id = await jwtVerify(m.idToken, jwks, {
            issuer: PUBLIC_URL,
            audience: m.clientId,
            currentDate,
          });
          assert.equal(id.protectedHeader.kid, kidOf(m.idToken), what);
          await jwtVerify(m.accessToken, jwks, {
            issuer: PUBLIC_URL,
            audience: MCP_URL,
            typ: 'at+jwt',
            currentDate,
          });
          for (const v of [n.sdk, fresh]) {
            const p = await v.verify(m.accessToken, { scopes: ['mcp:read'] });
            assert.equal(p.client_id, m.clientId, what);
            assert.equal(p.token_kind, 'oauth');
          }
        }
      }
    }

    async function sdkRefuses(token: string): Promise<void> {
      for (const n of [a, b]) {
        for (const v of [n.sdk, sdkFor(n.url)]) {
          await assert.rejects(
            v.verify(token),
            (e: unknown) => e instanceof VerifyError && e.code === 'invalid_token',
            `the SDK pointed at node ${n.name} refuses it`,
          );
        }
      }
    }

    const rotationAt = () => start + (a?.t.deps.config.keyRotationDays ?? 90) * DAY;
    const at = (ms: number) => clock.set(new Date(ms));

    let k1: string;
    let k2: string;
    let beforePublication: Minted[];
    let lastBeforeRotation: Minted[];
    let afterRotation: Minted[];

    it('two nodes starting at once make one current key, and both sign with it', async () => {
      const [ra, rb] = await Promise.all([
        runKeyTick({ ...a.t.deps, log: silent }),
        runKeyTick({ ...b.t.deps, log: silent }),
      ]);
      assert.equal(ra.created.length + rb.created.length, 1, 'one node created the key');
      const kids = await jwksKids(a);
      assert.equal(kids.length, 1);
      assert.deepEqual(await jwksKids(b), kids);
      k1 = kids[0]!;
      await verifiesEverywhere(await agreedKid(await person(), k1));
    });

    it('tokens signed before the next key is published keep verifying once it is', async () => {
      at(rotationAt() - NEXT_KEY_LEAD_MS - 10 * MINUTE);
      const who = await person();
      beforePublication = await agreedKid(who, k1);
      at(rotationAt() - NEXT_KEY_LEAD_MS);
      // B's hourly tick publishes the next key; A hears of it through Redis.
      const r = await runKeyTick({ ...b.t.deps, log: silent });
      assert.equal(r.published.length, 1);
      k2 = r.published[0]!;
      assert.notEqual(k2, k1);
      for (const n of [a, b])
        await until(
          async () => (await jwksKids(n)).join() === [k1, k2].sort().join(),
          `node ${n.name} to publish the next key`,
        );
      await verifiesEverywhere(beforePublication);
      // Published is not current: both nodes still sign with the first key.
      const during = await agreedKid(who, k1);
      await verifiesEverywhere([...beforePublication, ...during]);
      // A tick on A a moment later changes nothing: the next key is already there.
      const again = await runKeyTick({ ...a.t.deps, log: silent });
      assert.deepEqual(again.published, []);
      assert.deepEqual(again.rotated, []);
      // Expired tokens are refused (by expiry, not for their key).
      at(rotationAt() - NEXT_KEY_LEAD_MS + 2 * 60 * MINUTE);
      await sdkRefuses(beforePublication[0]!.accessToken);
    });

    it('both nodes ticking at the rotation date rotate once, to the published key, and agree on it at once', async () => {
      at(rotationAt() - 5 * MINUTE);
      const who = await person();
      lastBeforeRotation = await agreedKid(who, k1);
      at(rotationAt());
      const [ra, rb] = await Promise.all([
        runKeyTick({ ...a.t.deps, log: silent }),
        runKeyTick({ ...b.t.deps, log: silent }),
      ]);
      const rotated = [...ra.rotated, ...rb.rotated];
      assert.equal(rotated.length, 1, 'exactly one rotation');
      assert.equal(rotated[0]!.current, k2, 'the key published a day ahead became current');
      assert.equal(rotated[0]!.retired, k1);
      assert.deepEqual([...ra.published, ...rb.published], []);
      const states = await a.t.deps.db.selectFrom('signing_keys').select(['kid', 'state']).execute();
      assert.deepEqual(
        states.map((s) => `${s.kid}:${s.state}`).sort(),
        [`${k1}:retired`, `${k2}:current`].sort(),
        'no third key',
      );
      // A tick that read the key set just before the other node's rotation committed finds the key
      // it meant to rotate already retired, and leaves the new current key alone.
      assert.equal(await rotateKey(b.t.deps.db, clock, b.t.deps.config, 'ES256', k1), null);
      const still = await a.t.deps.db.selectFrom('signing_keys').select(['kid', 'state']).execute();
      assert.deepEqual(
        still.map((s) => `${s.kid}:${s.state}`).sort(),
        [`${k1}:retired`, `${k2}:current`].sort(),
      );
      // Both nodes drop their copy on the announcement (long before their 30 s cache would lapse).
      await until(async () => {
        const [x, y] = await agreedKid(who).catch(() => [null, null] as const);
        return x !== null && kidOf(x.idToken) === k2 && kidOf(y!.idToken) === k2;
      }, 'both nodes to sign with the new key');
      afterRotation = await agreedKid(who, k2);
      for (const n of [a, b])
        assert.deepEqual(await jwksKids(n), [k1, k2].sort(), 'the retired key stays published');
      await verifiesEverywhere([...lastBeforeRotation, ...afterRotation]);
    });

    it('a token signed by the retired key verifies until it expires, then is refused', async () => {
      const exp = decodeJwt(lastBeforeRotation[1]!.accessToken).exp! * 1000;
      at(exp - 1000);
      await verifiesEverywhere([...lastBeforeRotation, ...afterRotation]);
      at(exp + 31_000);
      for (const m of lastBeforeRotation) await sdkRefuses(m.accessToken);
      await verifiesEverywhere(afterRotation);
    });

    it("after the retired key's grace it is gone from both JWK Sets and its tokens are refused", async () => {
      at(rotationAt() + RETIRED_KEY_GRACE_MS + 1000);
      const r = await runKeyTick({ ...a.t.deps, log: silent });
      assert.equal(r.deleted, 1);
      for (const n of [a, b])
        await until(async () => (await jwksKids(n)).join() === k2, `node ${n.name} to drop the retired key`);
      for (const n of [a, b]) {
        const jwks = createRemoteJWKSet(new URL(`${n.url}/.well-known/jwks.json`));
        for (const m of lastBeforeRotation) {
          // Even at a moment the token was valid, no published key can verify it.
          const currentDate = new Date(decodeJwt(m.idToken).iat! * 1000);
          for (const [token, audience] of [
            [m.idToken, m.clientId],
            [m.accessToken, MCP_URL],
          ] as const) {
            await assert.rejects(
              jwtVerify(token, jwks, { issuer: PUBLIC_URL, audience, currentDate }),
              (e: { code?: string }) => e.code === 'ERR_JWKS_NO_MATCHING_KEY',
            );
          }
        }
        const res = await form(
          n.t,
          '/api/oauth/introspect',
          { token: lastBeforeRotation[0]!.accessToken },
          { basic: [MCP_ID, MCP_SECRET] },
        );
        assert.equal((res.json() as { active: boolean }).active, false);
        await sdkRefuses(lastBeforeRotation[0]!.accessToken);
      }
      await verifiesEverywhere(await agreedKid(await person(), k2));
    });

    it('a rotation through the admin API on B is in force on A at once; earlier tokens still verify', async () => {
      const who = await person();
      const before = await agreedKid(who, k2);
      const me = (await who.A.get('/api/v1/me')).json() as { user: { id: string } };
      await a.t.deps.db
        .updateTable('users')
        .set({ instance_admin: true })
        .where('id', '=', me.user.id)
        .execute();
      const res = await who.B.post('/api/v1/admin/signing-keys/rotate');
      assert.equal(res.statusCode, 200, res.body);
      const rotated = (res.json() as { rotated: { alg: string; current: string; retired: string }[] })
        .rotated;
      assert.equal(rotated.length, 1);
      assert.equal(rotated[0]!.retired, k2);
      const k3 = rotated[0]!.current;
      // The SDK refetches the JWKS for an unknown kid at most once a second (of its clock).
      clock.advance(2_000);
      // No key was published ahead: a verifier holding an old copy refetches on the unknown kid.
      await until(async () => kidOf((await mint(a, who)).idToken) === k3, 'node A to sign with the new key');
      const afterAdmin = await agreedKid(who, k3);
      for (const n of [a, b]) assert.deepEqual(await jwksKids(n), [k2, k3].sort());
      await verifiesEverywhere([...before, ...afterAdmin]);
    });
  },
);
