// test-backend: embedded — the subject is the CLI, not storage
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { TestServer } from '@latchkey/server/testing';
import {
  assertNoStack,
  type Browser,
  browser,
  deviceLogin,
  json,
  run,
  signUp,
  startLatchkey,
  stopAll,
  tempHome,
} from './helpers.js';

interface Token {
  id: string;
  type: string;
  token?: string;
  prefix: string;
  name: string | null;
  scopes: string[];
  expires_at: string | null;
}

/** `tokens create|list|rotate|revoke` and `org tokens create|list|rotate|revoke` as a signed-in person. */
describe('latchkey tokens / org tokens', () => {
  let t: TestServer;
  let url: string;
  let b: Browser;
  let person: Awaited<ReturnType<typeof signUp>>;
  const h = tempHome();
  const opts = { home: h.home };
  const lk = (...args: string[]) => run(args, opts);
  /** A personal token the browser session created with account:write: what manages personal tokens. */
  let account = '';
  const lkAccount = (...args: string[]) => run(args, { ...opts, env: { LATCHKEY_TOKEN: account } });

  before(async () => {
    ({ t, url } = await startLatchkey());
    b = browser(url);
    person = await signUp(b, t);
    const r = await deviceLogin({ ...opts, server: url, b });
    assert.equal(r.code, 0, r.stderr);
    const minted = await b('/api/v1/tokens', {
      json: {
        name: 'account',
        scopes: ['account:write', 'account:read', 'org:read', 'tokens:manage', 'members:read'],
      },
    });
    assert.equal(minted.status, 201, await minted.clone().text());
    account = ((await minted.json()) as { token: string }).token;
  });
  after(async () => {
    stopAll();
    await t.close();
    h.cleanup();
  });

  const list = async (...args: string[]) => {
    const r = await (args[0] === 'tokens' ? lkAccount : lk)(...args, '--json');
    assert.equal(r.code, 0, r.stderr);
    return json<{ data: Token[] }>(r).data;
  };

  it('with the sign-in of `latchkey login`, personal tokens are refused with an explanation (exit 1)', async () => {
    for (const args of [
      ['tokens', 'create', '--name', 'ci'],
      ['tokens', 'list'],
      ['tokens', 'create', '--type', 'svc'],
    ]) {
      const r = await lk(...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /managed from a browser session, not with the sign-in of `latchkey login`/);
      assert.match(r.stderr, /LATCHKEY_TOKEN/);
      assert.match(r.stderr, /latchkey org tokens create/);
      assertNoStack(r);
    }
    const doc = json<{ error: { code: string; status: number } }>(await lk('tokens', 'create', '--json'));
    assert.equal(doc.error.code, 'session_required');
    assert.equal(doc.error.status, 403);
  });

  it('creates a personal access token, showing its secret once', async () => {
    const r = await lkAccount(
      'tokens',
      'create',
      '--name',
      'ci',
      '--expires-in',
      '30d',
      '--scope',
      'org:read tokens:manage',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const tok = json<Token>(r);
    assert.equal(tok.type, 'pat');
    assert.equal(tok.name, 'ci');
    assert.match(tok.token!, /^lk_pat_/);
    assert.ok(tok.token!.startsWith(tok.prefix));
    assert.deepEqual(tok.scopes.sort(), ['org:read', 'tokens:manage']);
    const days = (Date.parse(tok.expires_at!) - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, String(days));
    assert.ok(!readFileSync(h.configPath, 'utf8').includes(tok.token!), 'a created token is not stored');
    // A token minted by a token never holds more than it.
    const wider = await lkAccount('tokens', 'create', '--scope', 'audit:read');
    assert.equal(wider.code, 1);
    assert.match(wider.stderr, /cannot grant scopes it does not hold: audit:read/);

    const human = await lkAccount('tokens', 'create', '--name', 'laptop');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /Created personal access token "laptop"/);
    assert.match(human.stdout, /\n {2}lk_pat_\S+\n/);
    assert.match(human.stdout, /shown only this once/);
    // No scopes named: the least, org:read.
    assert.match(human.stdout, /Scopes: +org:read\n/);
  });

  it('lists tokens without their secrets, and revokes one', async () => {
    const tokens = (await list('tokens', 'list')).filter((x) => x.name !== 'account');
    assert.deepEqual(tokens.map((x) => x.name).sort(), ['ci', 'laptop']);
    for (const x of tokens) assert.equal(x.token, undefined);
    const text = await lkAccount('tokens', 'list');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^ID +PREFIX +NAME +SCOPES +EXPIRES +LAST USED\n/);
    assert.doesNotMatch(text.stdout, /lk_pat_[A-Za-z0-9]{20,}/, 'only display prefixes');

    const ci = tokens.find((x) => x.name === 'ci')!;
    const r = await lkAccount('tokens', 'revoke', ci.id);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Revoked token ${ci.id}`));
    assert.deepEqual((await list('tokens', 'list')).map((x) => x.name).sort(), ['account', 'laptop']);
  });

  it('a revoked token no longer works, as LATCHKEY_TOKEN: exit 3', async () => {
    const r = await lkAccount(
      'tokens',
      'create',
      '--name',
      'short-lived',
      '--scope',
      'account:read',
      '--json',
    );
    const tok = json<Token>(r);
    const ok = await run(['whoami', '--json'], { ...opts, env: { LATCHKEY_TOKEN: tok.token! } });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await lkAccount('tokens', 'revoke', tok.id)).code, 0);
    const denied = await run(['whoami'], { ...opts, env: { LATCHKEY_TOKEN: tok.token! } });
    assert.equal(denied.code, 3);
    assert.match(denied.stderr, /latchkey: The credential is not valid\./);
    assertNoStack(denied);
  });

  it('revoking an unknown id is refused with exit 1 and the server code', async () => {
    const r = await lkAccount('tokens', 'revoke', randomUUID(), '--json');
    assert.equal(r.code, 1);
    const doc = json<{ error: { code: string; status: number }; exit_code: number }>(r);
    assert.equal(doc.error.code, 'not_found');
    assert.equal(doc.error.status, 404);
    assert.equal(doc.exit_code, 1);
    assert.match(r.stderr, /^latchkey: /);
  });

  it('service tokens of the org: create, list, revoke', async () => {
    const r = await lkAccount(
      'tokens',
      'create',
      '--type',
      'svc',
      '--name',
      'deploy',
      '--org',
      person.org.slug,
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const svc = json<Token>(r);
    assert.equal(svc.type, 'svc');
    assert.match(svc.token!, /^lk_svc_/);
    const listed = await list('tokens', 'list', '--type', 'svc', '--org', person.org.slug);
    assert.deepEqual(
      listed.map((x) => x.id),
      [svc.id],
    );
    assert.equal((await lkAccount('tokens', 'revoke', svc.id, '--org', person.org.id)).code, 0);
    assert.deepEqual(await list('tokens', 'list', '--type', 'svc', '--org', person.org.id), []);
  });

  it('org API keys in the default org and with --org', async () => {
    const r = await lk('org', 'tokens', 'create', '--name', 'backend', '--json');
    assert.equal(r.code, 0, r.stderr);
    const key = json<Token>(r);
    assert.equal(key.type, 'org');
    assert.match(key.token!, /^lk_org_/);

    const byId = await list('org', 'tokens', 'list', '--org', person.org.id);
    assert.deepEqual(
      byId.map((x) => x.id),
      [key.id],
    );
    assert.equal(byId[0]!.token, undefined);
    const text = await lk('org', 'tokens', 'list');
    assert.match(
      text.stdout,
      new RegExp(`${key.id} +${key.prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +backend`),
    );

    // Rotation: a new secret, the old one refused, the same name.
    const rotated = await lk('org', 'tokens', 'rotate', key.id, '--json');
    assert.equal(rotated.code, 0, rotated.stderr);
    const fresh = json<Token>(rotated);
    assert.notEqual(fresh.id, key.id);
    assert.equal(fresh.name, 'backend');
    assert.match(fresh.token!, /^lk_org_/);
    const listed = await list('org', 'tokens', 'list');
    assert.deepEqual(
      listed.map((x) => x.id),
      [fresh.id],
    );
    const again = await lk('org', 'tokens', 'rotate', key.id, '--json');
    assert.equal(again.code, 1, again.stderr);

    const revoked = await lk('org', 'tokens', 'revoke', fresh.id, '--org', person.org.slug, '--json');
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.deepEqual(json(revoked), { id: fresh.id, revoked: true });
    const none = await lk('org', 'tokens', 'list');
    assert.equal(none.code, 0);
    assert.match(none.stdout, /No org API keys\./);
  });

  it("an org the sign-in does not act in is refused (exit 1), not someone else's keys", async () => {
    const other = await signUp(browser(url));
    const r = await lk('org', 'tokens', 'list', '--org', other.org.id, '--json');
    assert.equal(r.code, 1);
    assert.equal(json<{ error: { code: string } }>(r).error.code, 'org_forbidden');
    assertNoStack(r);
  });
});
