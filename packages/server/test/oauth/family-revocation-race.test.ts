// test-backend: external — a second PostgreSQL connection holds a rotation open while the server revokes
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { type TestServer, testServer } from '../helpers/harness.js';
import { form, OAUTH_TOML, tokensFor } from './helpers.js';

/**
 * Revoking a token family (refresh-token reuse) while another request is rotating the family's
 * newest refresh token: what that rotation issues must die with the family too. The revocation's
 * first pass cannot see rows committed after it started, so it goes round again until a pass
 * finds nothing left alive.
 */
let t: TestServer;
before(async () => {
  t = await testServer({ toml: OAUTH_TOML });
});
after(() => t.close());

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Runs `revoke` (a request whose revocation must wait on the refresh token `head`) while another
 * connection has rotated `head` and issued its successor, with token hash `successor`, and holds
 * that open; commits the rotation once the revocation waits on it, then answers `revoke`'s response.
 */
async function racingRotation<T>(head: string, successor: string, revoke: () => Promise<T>): Promise<T> {
  const other = new pg.Client({ connectionString: t.storage.databaseUrl! });
  await other.connect();
  // A third connection watches: inside a transaction, pg_stat_activity does not change.
  const watcher = new pg.Client({ connectionString: t.storage.databaseUrl! });
  await watcher.connect();
  try {
    await other.query('begin');
    await other.query(`update oauth_tokens set rotated_at = now() where token_hash = $1`, [hash(head)]);
    await other.query(
      `insert into oauth_tokens (id, kind, token_hash, prefix, family_id, client_id, grant_id, user_id, org_id,
         resource, scopes, created_at, expires_at)
       select gen_random_uuid(), kind, $2, 'lk_rt_race', family_id, client_id, grant_id,
         user_id, org_id, resource, scopes, now(), expires_at
       from oauth_tokens where token_hash = $1`,
      [hash(head), successor],
    );
    const response = revoke();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await watcher.query(
        `select count(*) as n from pg_stat_activity
         where wait_event_type = 'Lock' and query ilike 'update "oauth_tokens" set "revoked_at"%'`,
      );
      if (Number(rows[0].n) > 0) break;
      assert.ok(Date.now() < deadline, 'the revocation never waited on the rotation');
      await new Promise((r) => setTimeout(r, 20));
    }
    await other.query('commit');
    return await response;
  } finally {
    await other.end();
    await watcher.end();
  }
}

/** Whether the token with this hash is revoked. */
const revoked = async (tokenHash: string) =>
  (
    await t.deps.db
      .selectFrom('oauth_tokens')
      .select(['revoked_at'])
      .where('token_hash', '=', tokenHash)
      .executeTakeFirstOrThrow()
  ).revoked_at !== null;

describe('family revocation racing a rotation', () => {
  it('a token issued by a rotation that commits during the revocation is revoked with the family', async () => {
    const b = t.client();
    await b.signup();
    const { client, tokens } = await tokensFor(t, b);
    const refresh = (rt: string) =>
      form(t, '/api/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: rt,
        client_id: client.client_id,
      });
    const first = tokens.refresh_token!;
    const second = await refresh(first);
    assert.equal(second.statusCode, 200, second.body);
    const head = (second.json() as { refresh_token: string }).refresh_token;

    // The first refresh token presented again: reuse. The revocation waits on the head's lock.
    const res = await racingRotation(head, 'successor-issued-in-the-race', () => refresh(first));
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error, 'invalid_grant');

    assert.ok(
      await revoked('successor-issued-in-the-race'),
      'the successor issued during the revocation is still alive',
    );
    const alive = await t.deps.db
      .selectFrom('oauth_tokens')
      .select('id')
      .where('client_id', '=', client.client_id)
      .where('revoked_at', 'is', null)
      .execute();
    assert.deepEqual(alive, []);
  });
});

/**
 * A password change ends every refresh token the person's sign-ins handed to apps. A rotation of
 * one of them that commits while the change revokes them issues a successor the revocation's first
 * pass cannot see: it goes round again, and the successor ends too.
 */
describe('a password change racing a rotation', () => {
  it('the refresh token the rotation issues during the change is revoked with the rest', async () => {
    const b = t.client();
    const { password } = await b.signup();
    const { tokens } = await tokensFor(t, b);
    const res = await racingRotation(
      tokens.refresh_token!,
      'successor-issued-during-the-password-change',
      () =>
        b.post('/api/auth/password', { current_password: password, new_password: 'another long passphrase' }),
    );
    assert.equal(res.statusCode, 200);
    assert.ok(
      await revoked('successor-issued-during-the-password-change'),
      'the successor issued during the change is still alive',
    );
  });
});
