// test-backend: embedded — the subject is configuration parsing, not storage
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { ensureBuilt, killAll, removeDir, spawnServer, tempDir } from '../process/proc.js';

// Configuration is read once, from the environment and an optional latchkey.toml; a bad value
// stops the start with a ConfigError that names the setting and never repeats a secret.

let dir: string;
const folders: string[] = [];
before(() => {
  dir = tempDir('config');
});
after(async () => {
  await killAll();
  for (const d of [dir, ...folders]) removeDir(d);
});

/** A fresh folder with an optional latchkey.toml in it. */
function folder(toml?: string): string {
  const d = tempDir('config-case');
  folders.push(d);
  if (toml !== undefined) writeFileSync(join(d, 'latchkey.toml'), toml);
  return d;
}

function refused(env: Record<string, string>, setting: string, opts: { cwd?: string; secret?: string } = {}) {
  const cwd = opts.cwd ?? dir;
  assert.throws(
    () => loadConfig({ env, cwd }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `not a ConfigError: ${err}`);
      assert.equal(err.setting, setting, err.message);
      assert.ok(err.message.startsWith(`${setting}: `), err.message);
      if (opts.secret)
        assert.ok(!err.message.includes(opts.secret), `the message repeats the secret: ${err.message}`);
      return true;
    },
    `${JSON.stringify(env)} should be refused naming ${setting}`,
  );
}

describe('loadConfig: bad values name the setting', () => {
  it('PORT must be an integer 1–65535', () => {
    for (const PORT of ['abc', '-1', '0', '65536', '80.5', ' 80', '1e3', '99999999999'])
      refused({ PORT }, 'PORT');
    assert.equal(loadConfig({ env: { PORT: '65535' }, cwd: dir }).port, 65535);
  });

  it('PUBLIC_URL must be an absolute http(s) URL without query, fragment or credentials', () => {
    for (const PUBLIC_URL of [
      'localhost:8484',
      'not a url',
      'ftp://example.com',
      'http://example.com/?a=1',
      'http://example.com/#x',
      'https://user:pw@example.com',
    ]) {
      refused({ PUBLIC_URL }, 'PUBLIC_URL');
    }
  });

  it('DATABASE_URL must be postgres:// or postgresql://, and its password is never repeated', () => {
    for (const DATABASE_URL of [
      'mysql://app:s3cret-db-pw@db/app',
      'sqlite:///tmp/x.db',
      'http://app:s3cret-db-pw@db',
      'app:s3cret-db-pw@db',
    ]) {
      refused({ DATABASE_URL }, 'DATABASE_URL', { secret: 's3cret-db-pw' });
    }
    assert.equal(
      loadConfig({ env: { DATABASE_URL: 'postgresql://u:p@h/db' }, cwd: dir }).databaseUrl,
      'postgresql://u:p@h/db',
    );
  });

  it('REDIS_URL and SMTP_URL are checked the same way', () => {
    refused({ REDIS_URL: 'http://:s3cret-redis@cache' }, 'REDIS_URL', { secret: 's3cret-redis' });
    refused({ SMTP_URL: 'imap://u:s3cret-smtp@mail' }, 'SMTP_URL', { secret: 's3cret-smtp' });
  });

  it('ADMIN_TOKEN must be long, and a short one is not repeated', () => {
    refused({ ADMIN_TOKEN: 'short-admin-token' }, 'ADMIN_TOKEN', { secret: 'short-admin-token' });
    assert.equal(loadConfig({ env: { ADMIN_TOKEN: 'x'.repeat(32) }, cwd: dir }).adminToken, 'x'.repeat(32));
  });

  it('LOG_LEVEL, TRUST_PROXY and MAIL_FROM are validated', () => {
    refused({ LOG_LEVEL: 'loud' }, 'LOG_LEVEL');
    refused({ TRUST_PROXY: 'maybe' }, 'TRUST_PROXY');
    refused({ MAIL_FROM: 'a@example.com\r\nBcc: everyone@example.com' }, 'MAIL_FROM');
  });
});

describe('loadConfig: latchkey.toml', () => {
  it('an unknown key is refused, named', () => {
    refused({}, 'listen_port', { cwd: folder('listen_port = 80\n') });
  });

  it('a value of the wrong kind is refused, named by its key', () => {
    refused({}, 'port', { cwd: folder('port = [8484]\n') });
  });

  it('LATCHKEY_CONFIG naming a missing file is refused', () => {
    refused({ LATCHKEY_CONFIG: 'nowhere/latchkey.toml' }, 'LATCHKEY_CONFIG');
  });

  it('a file that is not TOML is refused with its position, without quoting the file', () => {
    const cwd = folder('port = 8484\ndatabase_url = "postgres://app:s3cret-in-file@db/app" oops\n');
    refused({}, 'LATCHKEY_CONFIG', { cwd, secret: 's3cret-in-file' });
    assert.throws(() => loadConfig({ env: {}, cwd }), /line 2/);
  });

  it('file values apply, the environment wins over them, and an empty variable does not erase them', () => {
    const cwd = folder('port = 9000\npublic_url = "https://id.example.com/"\ntrust_proxy = true\n[scopes]\n');
    const fromFile = loadConfig({ env: {}, cwd });
    assert.equal(fromFile.port, 9000);
    assert.equal(fromFile.publicUrl, 'https://id.example.com');
    assert.equal(fromFile.publicOrigin, 'https://id.example.com');
    assert.equal(fromFile.secureCookies, true);
    assert.equal(fromFile.trustProxy, true);
    assert.equal(fromFile.configFile, join(cwd, 'latchkey.toml'));
    const overridden = loadConfig({ env: { PORT: '9100', TRUST_PROXY: 'false', PUBLIC_URL: '' }, cwd });
    assert.equal(overridden.port, 9100);
    assert.equal(overridden.trustProxy, false);
    assert.equal(overridden.publicUrl, 'https://id.example.com');
    // And a file named by LATCHKEY_CONFIG, relative to the working directory.
    assert.equal(loadConfig({ env: { LATCHKEY_CONFIG: 'latchkey.toml' }, cwd }).port, 9000);
  });

  it('a bad value in the file is refused like one in the environment', () => {
    refused({}, 'PORT', { cwd: folder('port = "eighty"\n') });
    refused({}, 'DATABASE_URL', {
      cwd: folder('database_url = "mysql://u:s3cret-file-pw@h/db"\n'),
      secret: 's3cret-file-pw',
    });
  });
});

describe('loadConfig: defaults', () => {
  it('are the documented development defaults, announced, and the result is frozen', () => {
    const c = loadConfig({ env: {}, cwd: dir });
    assert.equal(c.port, 8484);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.publicUrl, 'http://localhost:8484');
    assert.equal(c.dataDir, join(dir, '.latchkey'));
    assert.equal(c.databaseUrl, null);
    assert.equal(c.redisUrl, null);
    assert.equal(c.secureCookies, false);
    assert.ok(c.devDefaults.length >= 3);
    assert.ok(c.devDefaults.some((d) => d.includes('embedded database')));
    assert.ok(Object.isFrozen(c));
    assert.equal(loadConfig({ env: { PORT: '9001' }, cwd: dir }).publicUrl, 'http://localhost:9001');
  });
});

describe('a bad configuration stops the real server', () => {
  before(() => ensureBuilt());

  it('PORT=abc exits non-zero, names PORT, and does not repeat the DATABASE_URL password', async () => {
    const child = await spawnServer({
      cwd: dir,
      port: 8484,
      env: {
        PORT: 'abc',
        DATABASE_URL: 'postgres://latchkey:s3cret-db-pw@127.0.0.1:1/latchkey',
        LATCHKEY_DATA_DIR: join(dir, 'data'),
      },
    });
    const exit = await child.exited;
    assert.notEqual(exit.code, 0);
    assert.equal(exit.code, 78, 'EX_CONFIG');
    assert.match(child.stderr(), /PORT/);
    const output = child.stdout() + child.stderr();
    assert.ok(!output.includes('s3cret-db-pw'), output);
    assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
  });

  it('a bad DATABASE_URL scheme exits non-zero naming DATABASE_URL, without its password', async () => {
    const child = await spawnServer({
      cwd: dir,
      env: {
        DATABASE_URL: 'mysql://latchkey:s3cret-db-pw@127.0.0.1/latchkey',
        LATCHKEY_DATA_DIR: join(dir, 'data'),
      },
    });
    const exit = await child.exited;
    assert.equal(exit.code, 78);
    assert.match(child.stderr(), /DATABASE_URL/);
    assert.ok(!(child.stdout() + child.stderr()).includes('s3cret-db-pw'));
  });
});

describe('loadConfig: resources and scopes', () => {
  const secret = 'a-resource-secret-of-at-least-32-chars';
  it('reads [[resources]] and [scopes."…"] overrides', () => {
    const cwd = folder(
      `[[resources]]\nid = "example-mcp"\nurl = "https://mcp.example.com/mcp"\nname = "Example MCP"\nscopes = ["mcp:read", "mcp:run"]\nsecret = "${secret}"\n\n[scopes."mcp:run"]\ndescription = "Run it"\nrisk = "high"\n`,
    );
    const c = loadConfig({ env: {}, cwd });
    assert.equal(c.resources.length, 1);
    assert.deepEqual(
      { ...c.resources[0] },
      {
        id: 'example-mcp',
        url: 'https://mcp.example.com/mcp',
        name: 'Example MCP',
        scopes: ['mcp:read', 'mcp:run'],
        secret,
        acceptApiTokens: false,
        tools: new Map(),
        tokenFormat: 'opaque',
      },
    );
    assert.deepEqual({ ...c.scopes.get('mcp:run') }, { description: 'Run it', risk: 'high' });
  });

  it('reads [resources.tools]: the tools each scope unlocks', () => {
    const cwd = folder(
      `[[resources]]\nid = "a"\nurl = "https://x.example/mcp"\nscopes = ["mcp:read", "mcp:act"]\n\n[resources.tools]\n"mcp:read" = ["list_notes", "read_note", "read_note"]\n"mcp:act" = ["send_email"]\n`,
    );
    const tools = loadConfig({ env: {}, cwd }).resources[0]!.tools;
    assert.deepEqual(
      [...tools],
      [
        ['mcp:read', ['list_notes', 'read_note']],
        ['mcp:act', ['send_email']],
      ],
    );
  });

  for (const [what, toml, setting] of [
    ['a table instead of an array of tables', '[resources]\nid = "x"\n', 'resources'],
    ['a bad id', `[[resources]]\nid = "Bad Id"\nurl = "https://x.example/mcp"\n`, 'resources[0].id'],
    [
      'a duplicate id',
      `[[resources]]\nid = "a"\nurl = "https://x.example/1"\n[[resources]]\nid = "a"\nurl = "https://x.example/2"\n`,
      'resources[1].id',
    ],
    [
      'a URL with a fragment',
      `[[resources]]\nid = "a"\nurl = "https://x.example/mcp#f"\n`,
      'resources[0].url',
    ],
    ['a non-http URL', `[[resources]]\nid = "a"\nurl = "ftp://x.example/mcp"\n`, 'resources[0].url'],
    [
      'a short secret',
      `[[resources]]\nid = "a"\nurl = "https://x.example/mcp"\nsecret = "short"\n`,
      'resources[0].secret',
    ],
    [
      'an unknown key',
      `[[resources]]\nid = "a"\nurl = "https://x.example/mcp"\nsecrett = "x"\n`,
      'resources[0].secrett',
    ],
    [
      'accept_api_tokens that is not a boolean',
      `[[resources]]\nid = "a"\nurl = "https://x.example/mcp"\nsecret = "${secret}"\naccept_api_tokens = "yes"\n`,
      'resources[0].accept_api_tokens',
    ],
    [
      'a token_format other than opaque or jwt',
      `[[resources]]\nid = "a"\nurl = "https://x.example/mcp"\ntoken_format = "JWT"\n`,
      'resources[0].token_format',
    ],
    [
      'accept_api_tokens without a secret',
      `[[resources]]\nid = "a"\nurl = "https://x.example/mcp"\naccept_api_tokens = true\n`,
      'resources[0].accept_api_tokens',
    ],
    [
      'empty scopes',
      `[[resources]]\nid = "a"\nurl = "https://x.example/mcp"\nscopes = []\n`,
      'resources[0].scopes',
    ],
    ["Latchkey's own API", `[[resources]]\nid = "a"\nurl = "http://localhost:8484/api"\n`, 'resources[0]'],
    ['a bad risk', `[scopes."mcp:read"]\nrisk = "extreme"\n`, 'scopes."mcp:read".risk'],
    [
      'tools for a scope the resource does not have',
      `[[resources]]\nid = "a"\nurl = "https://x.example/mcp"\nscopes = ["mcp:read"]\n[resources.tools]\n"mcp:act" = ["x"]\n`,
      'resources[0].tools."mcp:act"',
    ],
    [
      'tools that are not a list of names',
      `[[resources]]\nid = "a"\nurl = "https://x.example/mcp"\n[resources.tools]\n"mcp:read" = "list_notes"\n`,
      'resources[0].tools."mcp:read"',
    ],
    [
      'a tool name with spaces',
      `[[resources]]\nid = "a"\nurl = "https://x.example/mcp"\n[resources.tools]\n"mcp:read" = ["rm -rf"]\n`,
      'resources[0].tools."mcp:read"',
    ],
    [
      'a tools table that is not a table',
      `[[resources]]\nid = "a"\nurl = "https://x.example/mcp"\ntools = ["x"]\n`,
      'resources[0].tools',
    ],
    [
      'two resources with the same normalised URL',
      `[[resources]]\nid = "a"\nurl = "https://x.example/mcp"\n[[resources]]\nid = "b"\nurl = "HTTPS://X.EXAMPLE:443/mcp"\n`,
      'resources[1].url',
    ],
  ] as const) {
    it(`refuses ${what}, naming ${setting}`, () => {
      refused({}, setting, { cwd: folder(toml) });
    });
  }
});
