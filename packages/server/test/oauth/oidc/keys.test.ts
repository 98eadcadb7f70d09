import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { ConfigError, loadConfig } from '../../../src/config/index.js';
import { DEV_SECRET_FILE } from '../../../src/config/files.js';
import { DAY, HOUR, manualClock } from '../../../src/lib/clock.js';
import { createSecretBox, SecretBoxError } from '../../../src/lib/secret-box.js';
import { createKeyStore } from '../../../src/oauth/oidc/key-store.js';
import { NEXT_KEY_LEAD_MS, RETIRED_KEY_GRACE_MS, tickKeys } from '../../../src/oauth/oidc/keys.js';
import { runKeyTick } from '../../../src/oauth/oidc/schedule.js';
import { sealStoredClientSecrets } from '../../../src/sso/secret-storage.js';
import { type Client, type TestServer, testServer } from '../../helpers/harness.js';

describe('LATCHKEY_SECRET and the secret box', () => {
  it('seals and opens; a wrong context, a changed byte or another secret do not open', () => {
    const box = createSecretBox(['a'.repeat(40)]);
    const sealed = box.seal('client-secret-value', 'ctx');
    assert.match(sealed, /^lk1\.[A-Za-z0-9_-]{8}\./);
    assert.ok(!sealed.includes('client-secret-value'));
    assert.equal(box.open(sealed, 'ctx'), 'client-secret-value');
    assert.throws(
      () => box.open(sealed, 'other'),
      (e: SecretBoxError) => e.code === 'tampered',
    );
    // One character of the sealed text changed (the second to last: always whole data bits).
    const flipped = sealed.slice(0, -2) + (sealed.at(-2) === 'A' ? 'B' : 'A') + sealed.slice(-1);
    assert.notEqual(flipped, sealed);
    assert.throws(() => box.open(flipped, 'ctx'), SecretBoxError);
    const other = createSecretBox(['b'.repeat(40)]);
    assert.throws(
      () => other.open(sealed, 'ctx'),
      (e: SecretBoxError) => e.code === 'unknown_key',
    );
    // Rotation: a box holding the new secret first and the old one second opens both.
    const rotated = createSecretBox(['b'.repeat(40), 'a'.repeat(40)]);
    assert.equal(rotated.open(sealed, 'ctx'), 'client-secret-value');
  });

  it('is required in production, checked for length, and generated once in the data folder otherwise', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-secret-'));
    try {
      assert.throws(
        () => loadConfig({ env: { NODE_ENV: 'production', LATCHKEY_DATA_DIR: dir }, cwd: dir }),
        (e: ConfigError) => e instanceof ConfigError && /LATCHKEY_SECRET/.test(e.message),
      );
      assert.throws(
        () => loadConfig({ env: { LATCHKEY_SECRET: 'short', LATCHKEY_DATA_DIR: dir }, cwd: dir }),
        (e: ConfigError) => /LATCHKEY_SECRET/.test(e.message) && !e.message.includes('short'),
      );
      const a = loadConfig({ env: { LATCHKEY_DATA_DIR: dir }, cwd: dir });
      const b = loadConfig({ env: { LATCHKEY_DATA_DIR: dir }, cwd: dir });
      assert.equal(a.secrets[0], b.secrets[0], 'the generated secret is kept');
      assert.ok(a.secrets[0]!.length >= 32);
      assert.ok(
        a.devDefaults.some((d) => d.includes('LATCHKEY_SECRET')),
        'announced as a development default',
      );
      const file = join(dir, DEV_SECRET_FILE);
      assert.equal(readFileSync(file, 'utf8').trim(), a.secrets[0]);
      assert.equal(statSync(file).mode & 0o077, 0, 'readable by its owner only');
      const set = loadConfig({ env: { LATCHKEY_SECRET: 'x'.repeat(32), NODE_ENV: 'production' }, cwd: dir });
      assert.deepEqual(set.secrets, ['x'.repeat(32)]);
      assert.ok(!set.devDefaults.some((d) => d.includes('LATCHKEY_SECRET')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('signing keys', () => {
  let t: TestServer;
  const clock = manualClock(new Date());
  const config = () => t.deps.config;
  before(async () => {
    t = await testServer({ clock });
  });
  after(async () => t?.close());

  const rows = () =>
    t.deps.db.selectFrom('signing_keys').select(['kid', 'state', 'private_jwk', 'expires_at']).execute();

  it('a first tick makes one current ES256 key; its private half is sealed; JWKS publishes the public half only', async () => {
    const log = { info: () => {}, error: () => {} };
    await Promise.all([runKeyTick({ ...t.deps, log }), runKeyTick({ ...t.deps, log })]);
    const keys = await rows();
    assert.equal(
      keys.filter((k) => k.state === 'current').length,
      1,
      'two ticks at once leave one current key',
    );
    assert.match(keys[0]!.private_jwk, /^lk1\./);
    const res = await t.client().get('/.well-known/jwks.json');
    assert.equal(res.statusCode, 200);
    const jwks = res.json() as { keys: Record<string, unknown>[] };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]!.alg, 'ES256');
    assert.equal(jwks.keys[0]!.kid, keys[0]!.kid);
    assert.equal(jwks.keys[0]!.d, undefined, 'no private part');
  });

  it('publishes the next key 24 h ahead, rotates after the period, keeps the retired key for its grace', async () => {
    const store = createKeyStore(t.deps);
    const before = await store.sign({ sub: 'x', iss: config().publicUrl }, { alg: 'ES256', typ: 'JWT' });
    assert.equal((await store.jwks()).keys.length, 1);
    clock.advance(config().keyRotationDays * DAY - NEXT_KEY_LEAD_MS);
    const r1 = await tickKeys(t.deps.db, clock, config());
    assert.equal(r1.published.length, 1, 'the next key is published');
    assert.equal((await store.jwks()).keys.length, 1, 'this node still holds its cached copy');
    await store.announce();
    assert.equal((await store.jwks()).keys.length, 2, 'next + current');
    clock.advance(NEXT_KEY_LEAD_MS);
    const r2 = await tickKeys(t.deps.db, clock, config());
    assert.equal(r2.rotated.length, 1);
    assert.equal(r2.rotated[0]!.current, r1.published[0], 'the published key became current');
    await store.announce();
    const after = await store.sign({ sub: 'y', iss: config().publicUrl }, { alg: 'ES256', typ: 'JWT' });
    const set = createLocalJWKSet(await store.jwks());
    const opts = { currentDate: clock.now(), clockTolerance: (10 * DAY) / 1000 };
    await jwtVerify(before, set, opts);
    await jwtVerify(after, set, opts);
    assert.notEqual(
      JSON.parse(Buffer.from(before.split('.')[0]!, 'base64url').toString()).kid,
      JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid,
    );
    // After the grace the retired key is gone: a token it signed no longer verifies.
    clock.advance(RETIRED_KEY_GRACE_MS + 1);
    const r3 = await tickKeys(t.deps.db, clock, config());
    assert.equal(r3.deleted, 1);
    await store.announce();
    await assert.rejects(
      store.verify(before, { clockTolerance: (10 * DAY) / 1000 }),
      /no applicable key|matching/i,
    );
    await store.verify(after, { clockTolerance: HOUR / 1000 });
  });

  describe('the admin API', () => {
    let owner: Client;
    let member: Client;
    before(async () => {
      owner = t.client();
      const { user } = await owner.signup();
      await t.deps.db.updateTable('users').set({ instance_admin: true }).where('id', '=', user.id).execute();
      member = t.client();
      await member.signup();
    });

    it('refuses anyone but an instance admin, and a token even theirs', async () => {
      assert.equal((await t.client().post('/api/v1/admin/signing-keys/rotate')).statusCode, 401);
      assert.equal((await member.post('/api/v1/admin/signing-keys/rotate')).statusCode, 403);
      assert.equal((await member.get('/api/v1/admin/signing-keys')).statusCode, 403);
      const pat = await owner.post('/api/v1/tokens', { name: 'k', scopes: ['org:read'] });
      const token = (pat.json() as { token: string }).token;
      const viaToken = await t.client().req({
        method: 'POST',
        url: '/api/v1/admin/signing-keys/rotate',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(viaToken.statusCode, 403);
    });

    it('rotates for an instance admin, audited; the old key stays published', async () => {
      const list = await owner.get('/api/v1/admin/signing-keys');
      const current = (list.json() as { data: { kid: string; state: string }[] }).data.find(
        (k) => k.state === 'current',
      )!;
      const res = await owner.post('/api/v1/admin/signing-keys/rotate');
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as { rotated: { alg: string; current: string; retired: string }[] };
      assert.equal(body.rotated[0]!.retired, current.kid);
      const jwks = (await t.client().get('/.well-known/jwks.json')).json() as { keys: { kid: string }[] };
      assert.ok(
        jwks.keys.some((k) => k.kid === current.kid),
        'retired, still published',
      );
      assert.ok(jwks.keys.some((k) => k.kid === body.rotated[0]!.current));
      const audited = await t.deps.db
        .selectFrom('audit_events')
        .select('action')
        .where('action', '=', 'signing_key.rotated')
        .execute();
      assert.equal(audited.length, 1);
    });
  });

  it('SSO client secrets are sealed at rest; the start-up pass seals old plaintext rows once', async () => {
    const owner = t.client();
    const { org } = await owner.signup();
    const res = await owner.post(
      '/api/v1/org/sso/connections',
      {
        kind: 'oidc',
        name: 'IdP',
        oidc_issuer: 'https://idp.example.com',
        oidc_client_id: 'cid',
        oidc_client_secret: 'plain-client-secret-123',
      },
      org.id,
    );
    assert.equal(res.statusCode, 201, res.body);
    assert.ok(!res.body.includes('plain-client-secret-123'));
    const id = (res.json() as { id: string }).id;
    const stored = await t.deps.db
      .selectFrom('sso_connections')
      .select('oidc_client_secret')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    assert.match(stored.oidc_client_secret!, /^lk1\./);
    // A row from before sealing: plaintext until the pass.
    await t.deps.db
      .updateTable('sso_connections')
      .set({ oidc_client_secret: 'legacy-plaintext' })
      .where('id', '=', id)
      .execute();
    assert.equal(await sealStoredClientSecrets(t.deps.db, t.deps.config), 1);
    assert.equal(await sealStoredClientSecrets(t.deps.db, t.deps.config), 0);
    const after = await t.deps.db
      .selectFrom('sso_connections')
      .select('oidc_client_secret')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    const { openClientSecret } = await import('../../../src/sso/connections.js');
    assert.equal(openClientSecret(t.deps.config, after.oidc_client_secret!), 'legacy-plaintext');
  });
});
