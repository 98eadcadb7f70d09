// test-backend: embedded — the subject is the CLI, not storage
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../src/program.js';
import { stringify } from 'smol-toml';
import { assertNoStack, freePort, json, readToml, type Result, run, stopAll, tempHome } from './helpers.js';

const h = tempHome();
const lk = (args: string[], env: Record<string, string> = {}) => run(args, { home: h.home, env });
after(() => {
  stopAll();
  h.cleanup();
});

type ErrorDoc = { error: { code: string; message: string; status?: number }; exit_code: number };

function assertFails(r: Result, code: number, stderr: RegExp): void {
  assert.equal(r.code, code, `exit ${r.code}:\n${r.stderr}`);
  assert.match(r.stderr, stderr);
  assertNoStack(r);
}

describe('--help', () => {
  /** Every command path in the tree: [], ['login'], ['tokens', 'create'], … */
  function paths(cmd: Command, prefix: string[] = []): string[][] {
    return [prefix, ...cmd.commands.flatMap((c) => paths(c, [...prefix, c.name()]))];
  }
  const all = paths(buildProgram());

  it('covers the whole command tree', () => {
    const names = all.map((p) => p.join(' '));
    for (const p of [
      'login',
      'logout',
      'whoami',
      'tokens create',
      'tokens list',
      'tokens revoke',
      'org tokens create',
      'org tokens list',
      'org tokens revoke',
      'agent signup',
      'agent signup verify',
      'agent signup status',
    ])
      assert.ok(names.includes(p), p);
  });

  it('prints usage on stdout and exits 0 for every command', async () => {
    // A few at a time: the machine may be busy with other suites.
    const results: Result[] = [];
    for (let i = 0; i < all.length; i += 4)
      results.push(...(await Promise.all(all.slice(i, i + 4).map((p) => lk([...p, '--help'])))));
    results.forEach((r, i) => {
      const p = all[i]!;
      assert.equal(r.code, 0, `${p.join(' ')}: ${r.stderr}`);
      assert.ok(r.stdout.startsWith(`Usage: latchkey${p.length ? ` ${p.join(' ')}` : ''} `), r.stdout);
      assert.match(r.stdout, /--json/, 'global options are shown');
      assert.equal(r.stderr, '');
    });
  });
});

describe('usage errors exit 2', () => {
  const cases: [string[], RegExp][] = [
    [[], /Usage: latchkey/],
    [['bogus'], /unknown command 'bogus'/],
    [['whoami', '--bogus'], /unknown option '--bogus'/],
    [['tokens', 'revoke'], /missing required argument 'id'/],
    [['tokens', 'create', '--expires-in', 'soon'], /--expires-in.*invalid/],
    [['tokens', 'create', '--type', 'root'], /Allowed choices are pat, svc/],
    [['agent', 'signup', '--name', 'Bot'], /required option '--human-email <email>' not specified/],
    [
      ['agent', 'signup', '--name', 'Bot', '--human-email', 'h@example.com', '--harness', 'my editor!'],
      /--harness is a short identifier/,
    ],
    [['agent', 'signup', '--name', 'Bot', '--human-email', 'not-an-email'], /not an email address/],
    [['agent', 'signup', 'verify'], /required option '--code <code>' not specified/],
    [['agent', 'signup', 'verify', '--code', '12'], /6 digits/],
    [['whoami', '--server', 'ftp://example.com'], /must use http or https/],
    [['whoami', '--server', 'not a url'], /Not a server URL/],
  ];
  for (const [args, message] of cases) {
    it(`latchkey ${args.join(' ')}`, async () => {
      assertFails(await lk(args), 2, message);
    });
  }

  it('--json adds one JSON error document on stdout', async () => {
    const r = await lk(['tokens', 'create', '--bogus', '--json']);
    assert.equal(r.code, 2);
    const doc = json<ErrorDoc>(r);
    assert.equal(doc.error.code, 'usage');
    assert.equal(doc.exit_code, 2);
  });
});

// A real local HTTP server that answers what each test scripts (5xx, 401, non-JSON…), standing in
// for a misbehaving Latchkey.
describe('server errors', () => {
  let fakeServer: Server;
  let fakeServerUrl: string;
  let answer: (path: string) => { status: number; type: string; body: string };

  before(async () => {
    fakeServer = createServer((req, res) => {
      const a = answer(req.url ?? '/');
      res.writeHead(a.status, { 'content-type': a.type }).end(a.body);
    });
    await new Promise<void>((r) => fakeServer.listen(0, '127.0.0.1', r));
    fakeServerUrl = `http://127.0.0.1:${(fakeServer.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => fakeServer.close(() => r())));

  it('an unreachable server exits 4, with or without --json', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    assertFails(
      await lk(['login', '--server', closed]),
      4,
      /Cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
    const r = await lk(['whoami', '--json', '--server', closed], { LATCHKEY_TOKEN: 'lk_pat_x' });
    assertFails(r, 4, /Cannot reach/);
    assert.equal(json<ErrorDoc>(r).error.code, 'unreachable');
  });

  it('a 5xx exits 4; a rejected credential exits 3; a refusal exits 1', async () => {
    const problem = (status: number, code: string, detail: string) => ({
      status,
      type: 'application/problem+json',
      body: JSON.stringify({ type: `urn:latchkey:problem:${code}`, title: code, status, code, detail }),
    });
    const env = { LATCHKEY_TOKEN: 'lk_pat_whatever', LATCHKEY_URL: fakeServerUrl };
    answer = () => problem(503, 'unavailable', 'Down for maintenance.');
    assertFails(await lk(['whoami'], env), 4, /failed to answer \(HTTP 503\): Down for maintenance\./);
    answer = () => problem(401, 'unauthorized', 'The credential is not valid.');
    assertFails(await lk(['whoami'], env), 3, /The credential is not valid\.\n.*latchkey login/);
    answer = () => problem(403, 'forbidden', 'The credential lacks the tokens:manage scope.');
    const r = await lk(['tokens', 'list', '--json'], env);
    assertFails(r, 1, /lacks the tokens:manage scope/);
    assert.deepEqual(json<ErrorDoc>(r).error, {
      code: 'forbidden',
      message: 'The credential lacks the tokens:manage scope.',
      status: 403,
    });
  });

  it('something that is not a Latchkey server exits 4', async () => {
    answer = () => ({ status: 200, type: 'text/html', body: '<!doctype html><p>hello' });
    assertFails(await lk(['login', '--server', fakeServerUrl]), 4, /not JSON/);
    answer = () => ({ status: 404, type: 'text/plain', body: '' });
    assertFails(
      await lk(['login', '--server', fakeServerUrl]),
      4,
      /did not serve valid OAuth metadata\.\n.*Latchkey server/,
    );
  });

  it('metadata naming another issuer is refused', async () => {
    answer = () => ({
      status: 200,
      type: 'application/json',
      body: JSON.stringify({
        issuer: 'https://auth.example.com',
        token_endpoint: 'https://auth.example.com/t',
      }),
    });
    assertFails(
      await lk(['login', '--server', fakeServerUrl]),
      2,
      /names itself https:\/\/auth\.example\.com/,
    );
  });
});

describe('local problems', () => {
  it('no sign-in exits 3 and says how to sign in', async () => {
    assertFails(
      await lk(['tokens', 'list', '--server', 'http://127.0.0.1:9']),
      3,
      /Not signed in.*\n.*latchkey login/,
    );
    assertFails(await lk(['agent', 'signup', 'status', '--server', 'http://127.0.0.1:9']), 3, /No agent key/);
  });

  it('logout keeps the credentials when the server cannot revoke them, unless --force', async () => {
    const other = tempHome();
    const closed = `http://127.0.0.1:${await freePort()}`;
    try {
      mkdirSync(dirname(other.configPath), { recursive: true });
      const session = {
        access_token: 'lk_at_x',
        refresh_token: 'lk_rt_x',
        expires_at: new Date().toISOString(),
        scope: '',
      };
      writeFileSync(
        other.configPath,
        stringify({ default_server: closed, servers: { [closed]: { client_id: 'c', session } } }),
        { mode: 0o600 },
      );
      const kept = await run(['logout', '--json'], { home: other.home });
      assertFails(kept, 4, /Could not revoke the sign-in: Cannot reach[\s\S]*--force/);
      assert.equal(json<ErrorDoc>(kept).error.code, 'unreachable');
      assert.equal(readToml(other.configPath).servers[closed].session.refresh_token, 'lk_rt_x');

      const forced = await run(['logout', '--force', '--json'], { home: other.home });
      assert.equal(forced.code, 0, forced.stderr);
      assert.deepEqual(json(forced), { server: closed, signed_out: true, revoked: false });
      assert.match(forced.stderr, /warning: could not revoke/);
      assert.equal(readToml(other.configPath).servers[closed].session, undefined);
    } finally {
      other.cleanup();
    }
  });

  it('a config file that is not TOML exits 1 and names the file', async () => {
    const other = tempHome();
    try {
      mkdirSync(dirname(other.configPath), { recursive: true });
      writeFileSync(other.configPath, 'servers = [this is not toml', { mode: 0o600 });
      const r = await run(['whoami'], { home: other.home });
      assertFails(
        r,
        1,
        new RegExp(`${other.configPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid TOML`),
      );
    } finally {
      other.cleanup();
    }
  });
});
