// test-backend: embedded — the subject is what a start prints, on the embedded shape and when the
// configured PostgreSQL or Redis cannot be reached
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/http/logging.js';
import { ensureBuilt, freePort, killAll, removeDir, spawnServer, tempDir } from './proc.js';

const TOML = `
[[resources]]
id = "notes-api"
url = "https://notes.example.com/api"
name = "Notes API"
scopes = ["mcp:read"]
secret = "notes-resource-secret-0123456789abcdef"
`;
const SECRET = 'start-test-secret-0123456789abcdef';
const PASSWORD = 's3cret-pw-start';

describe('the first start: readable logs, resources announced, clear connection failures', () => {
  const dir = tempDir('first-start');
  before(() => {
    ensureBuilt();
    writeFileSync(join(dir, 'latchkey.toml'), TOML);
  });
  after(async () => {
    await killAll();
    removeDir(dir);
  });
  const env = { LATCHKEY_DATA_DIR: join(dir, 'data'), LATCHKEY_SECRET: SECRET };

  it('development logs are readable lines; each resource from latchkey.toml is announced', async () => {
    // Text, the development default (the LOG_FORMAT tests below check the default itself).
    const s = await spawnServer({ cwd: dir, env: { ...env, LOG_FORMAT: 'text' } });
    await s.waitForOutput(/Latchkey is running at/, 180_000);
    s.proc.kill('SIGTERM');
    await s.exited;
    const out = s.stdout();
    assert.match(
      out,
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}resource Notes API \(https:\/\/notes\.example\.com\/api\) loaded from \S*latchkey\.toml id=notes-api scopes=\["mcp:read"\]$/m,
      out,
    );
    assert.match(out, /^\d\d:\d\d:\d\d\.\d{3} WARN {2}development default: /m);
    assert.match(out, /INFO {2}opening the embedded database \(a first start creates it/);
    assert.doesNotMatch(out, /^\{"level"/m, 'no JSON lines');
    assert.ok(!out.includes(SECRET) && !out.includes('notes-resource-secret'), 'no secret printed');
  });

  it('LOG_FORMAT=json writes JSON lines', async () => {
    const s = await spawnServer({ cwd: dir, env: { ...env, LOG_FORMAT: 'json' } });
    await s.waitForOutput(/Latchkey is running at/, 120_000);
    s.proc.kill('SIGTERM');
    await s.exited;
    const lines = s
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; id?: string });
    const resource = lines.find((l) => l.msg.startsWith('resource Notes API'));
    assert.equal(resource?.id, 'notes-api');
  });

  it('an unreachable PostgreSQL: the start stops naming the URL without its password, and what to check', async () => {
    const port = await freePort();
    const s = await spawnServer({
      cwd: dir,
      env: { ...env, DATABASE_URL: `postgres://latchkey:${PASSWORD}@127.0.0.1:${port}/latchkey` },
    });
    const { code } = await s.exited;
    assert.equal(code, 1);
    const err = s.stderr();
    assert.match(
      err,
      new RegExp(
        `cannot connect to PostgreSQL at postgres://latchkey:\\*\\*\\*@127\\.0\\.0\\.1:${port}/latchkey`,
      ),
    );
    assert.match(err, /check that PostgreSQL is running .* DATABASE_URL/);
    assert.match(s.stdout(), /connecting to PostgreSQL at postgres:\/\/latchkey:\*\*\*@127\.0\.0\.1/);
    assert.ok(!(err + s.stdout()).includes(PASSWORD), 'the password is not printed');
  });

  it('an unreachable Redis: the same, for REDIS_URL', async () => {
    const port = await freePort();
    const s = await spawnServer({
      cwd: dir,
      env: { ...env, REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${port}/0` },
    });
    const { code } = await s.exited;
    assert.equal(code, 1);
    const err = s.stderr();
    assert.match(err, new RegExp(`cannot connect to Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0`));
    assert.match(err, /check that Redis is running .* REDIS_URL/);
    assert.ok(!(err + s.stdout()).includes(PASSWORD), 'the password is not printed');
  });
});

describe('LOG_FORMAT', () => {
  const cwd = tempDir('log-format');
  after(() => removeDir(cwd));
  const format = (env: Record<string, string>) =>
    loadConfig({ cwd, env: { LATCHKEY_DATA_DIR: cwd, LATCHKEY_SECRET: SECRET, ...env } }).logFormat;

  it('is text in development and json in production, unless set; anything else stops the start', () => {
    assert.equal(format({}), 'text');
    assert.equal(format({ NODE_ENV: 'production' }), 'json');
    assert.equal(format({ LOG_FORMAT: 'json' }), 'json');
    assert.equal(format({ NODE_ENV: 'production', LOG_FORMAT: 'text' }), 'text');
    assert.throws(
      () => format({ LOG_FORMAT: 'pretty' }),
      (e: unknown) => e instanceof ConfigError && /LOG_FORMAT/.test(e.message),
    );
  });

  it('text lines are redacted like JSON ones, and show an error with its stack', () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const log = createLogger('info', sink, 'text');
    log.info({ user: { password: 'hunter2-hunter2' }, body: { token: 'lk_pat_secret' } }, 'signed in');
    log.error({ err: new Error('boom') }, 'it failed');
    assert.doesNotMatch(out, /hunter2|lk_pat_secret/);
    assert.match(out, /INFO {2}signed in user=\{"password":"\[redacted\]"\} body=\{"token":"\[redacted\]"\}/);
    assert.match(out, /ERROR it failed\n {2}Error: boom\n +at /);
  });
});
