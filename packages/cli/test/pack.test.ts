import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  MCP_ID,
  MCP_SECRET,
  MCP_URL,
  OAUTH_TOML,
  testServer,
  type TestServer,
  tokensFor,
} from '@latchkey/server/testing';
import { browser, freePort, ROOT, signUp } from './helpers.js';

/**
 * The published shape of `latchkey` and `@latchkey/sdk`: each is built, packed with `npm pack`, and
 * installed into a temp folder with no workspace around it — the CLI globally (`npm i -g`), the SDK
 * into a fresh project — then run against a live Latchkey. Nothing reaches the internet: the
 * packages' own dependencies come from a registry on 127.0.0.1 that serves the copies this
 * repository installed.
 */

const NPM_TIMEOUT_MS = 180_000;
const work = mkdtempSync(join(tmpdir(), 'latchkey-pack-'));

/** A clean environment for npm and for what it installed: nothing of this repository leaks in. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: `${dirname(process.execPath)}:/usr/bin:/bin`,
    HOME: join(work, 'home'),
    npm_config_userconfig: join(work, 'npmrc'),
    npm_config_cache: join(work, 'npm-cache'),
    npm_config_update_notifier: 'false',
    NO_COLOR: '1',
    ...extra,
  };
}

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program without blocking this process, which serves the Latchkey it talks to. */
function runAsync(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  timeout = 60_000,
): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Runs npm asynchronously: the registry it installs from is served by this process. */
async function npm(args: string[], cwd: string): Promise<string> {
  const r = await runAsync('npm', args, cwd, cleanEnv(), NPM_TIMEOUT_MS);
  assert.equal(r.status, 0, `npm ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `npm pack` of a folder into `dest`; returns the tarball's path. */
async function pack(dir: string, dest: string): Promise<string> {
  const out = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dest, dir], ROOT);
  const [packed] = JSON.parse(out) as { filename: string }[];
  return join(dest, packed!.filename);
}

/** An npm registry on 127.0.0.1 serving the given installed packages, each packed from node_modules. */
async function localRegistry(names: string[]): Promise<{ url: string; server: Server }> {
  const dest = join(work, 'registry');
  mkdirSync(dest, { recursive: true });
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const packuments = new Map<string, string>();
  const tarballs = new Map<string, Buffer>();
  for (const name of names) {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'));
    const tgz = readFileSync(await pack(join(ROOT, 'node_modules', name), dest));
    const path = `/${name}/-/${name.split('/').pop()}-${manifest.version}.tgz`;
    tarballs.set(path, tgz);
    const dist = {
      tarball: `${url}${path}`,
      shasum: createHash('sha1').update(tgz).digest('hex'),
      integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}`,
    };
    packuments.set(
      `/${name.replace('/', '%2f')}`,
      JSON.stringify({
        name,
        'dist-tags': { latest: manifest.version },
        versions: { [manifest.version]: { ...manifest, dist } },
      }),
    );
  }
  server.on('request', (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const body = packuments.get(path) ?? tarballs.get(path);
    if (!body) return res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    res.writeHead(200, {
      'content-type': packuments.has(path) ? 'application/json' : 'application/octet-stream',
    });
    res.end(body);
  });
  return { url, server };
}

describe('npm pack: the CLI and the SDK install and run outside the repository', () => {
  let t: TestServer;
  let issuer: string;
  let registry: { url: string; server: Server };
  let pat: string;
  let accessToken: string;
  const tarballs: Record<'cli' | 'sdk', string> = { cli: '', sdk: '' };

  before(async () => {
    mkdirSync(join(work, 'home'), { recursive: true });
    writeFileSync(join(work, 'npmrc'), '');
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'packages/sdk', 'packages/cli'],
      { cwd: ROOT, stdio: 'inherit' },
    );
    const dest = join(work, 'tarballs');
    mkdirSync(dest);
    tarballs.cli = await pack(join(ROOT, 'packages/cli'), dest);
    tarballs.sdk = await pack(join(ROOT, 'packages/sdk'), dest);
    const cliDeps = Object.keys(
      (
        JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')) as {
          dependencies: Record<string, string>;
        }
      ).dependencies,
    );
    registry = await localRegistry(cliDeps);

    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    t = await testServer({ toml: OAUTH_TOML, env: { PUBLIC_URL: issuer } });
    await t.app.listen({ port, host: '127.0.0.1' });
    const b = browser(issuer);
    await signUp(b, t);
    const minted = await b('/api/v1/tokens', {
      json: { name: 'packed', type: 'pat', scopes: ['account:read', 'org:read'] },
    });
    assert.equal(minted.status, 201, await minted.clone().text());
    pat = ((await minted.json()) as { token: string }).token;
    const c = t.client();
    const signup = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: { origin: issuer },
      payload: {
        email: `packed-sdk-${Date.now()}@example.com`,
        password: 'a sturdy passphrase 42',
        name: 'SDK',
      },
    });
    c.cookie = signup.cookies.find((k) => k.name === 'lk_session')!.value;
    const orig = c.req.bind(c);
    c.req = (r) => orig({ ...r, headers: { origin: issuer, ...r.headers } });
    accessToken = (await tokensFor(t, c, { scope: 'mcp:read' })).tokens.access_token;
  });

  after(async () => {
    await t?.close();
    registry?.server.close();
    rmSync(work, { recursive: true, force: true });
  });

  describe('latchkey (npm i -g of the packed CLI)', () => {
    const prefix = join(work, 'global');
    const bin = join(prefix, 'bin', 'latchkey');
    const lk = (args: string[], env: Record<string, string> = {}) => runAsync(bin, args, work, cleanEnv(env));

    before(async () => {
      await npm(
        [
          'install',
          '-g',
          '--prefix',
          prefix,
          '--registry',
          registry.url,
          '--no-audit',
          '--no-fund',
          tarballs.cli,
        ],
        work,
      );
    });

    it('ships its launcher and compiled code, not its sources or tests', () => {
      const listing = execFileSync('tar', ['-tzf', tarballs.cli], { encoding: 'utf8' }).split('\n');
      assert.ok(listing.includes('package/bin/latchkey.js'));
      assert.ok(listing.includes('package/dist/main.js'));
      assert.deepEqual(
        listing.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts')),
        [],
        'no TypeScript sources',
      );
      assert.deepEqual(
        listing.filter((f) => f.includes('/test/')),
        [],
      );
    });

    it('`latchkey --help` runs from the global install, without tsx', async () => {
      const r = await lk(['--help']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Usage: latchkey/);
      assert.match(r.stdout, /whoami/);
    });

    it('`latchkey whoami` answers for a real personal access token', async () => {
      const r = await lk(['whoami', '--json'], { LATCHKEY_URL: issuer, LATCHKEY_TOKEN: pat });
      assert.equal(r.status, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { credential: { kind: string } }).credential.kind, 'pat');
    });

    it('a wrong token is refused with the sign-in exit code, and is never printed', async () => {
      const wrong = `${pat.slice(0, -4)}AAAA`;
      const r = await lk(['whoami', '--json'], { LATCHKEY_URL: issuer, LATCHKEY_TOKEN: wrong });
      assert.equal(r.status, 3, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout + r.stderr, new RegExp(wrong));
    });
  });

  describe('@latchkey/sdk (npm install of the packed SDK into a fresh project)', () => {
    const app = join(work, 'app');
    const run = (token: string, scopes: string) =>
      runAsync(process.execPath, ['verify.mjs', token, scopes], app, cleanEnv({ LATCHKEY_ISSUER: issuer }));

    before(async () => {
      mkdirSync(app);
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({ name: 'app', private: true, type: 'module' }),
      );
      await npm(['install', '--registry', registry.url, '--no-audit', '--no-fund', tarballs.sdk], app);
      writeFileSync(
        join(app, 'verify.mjs'),
        `import { createVerifier } from '@latchkey/sdk';
const verifier = createVerifier({
  issuer: process.env.LATCHKEY_ISSUER,
  resource: ${JSON.stringify(MCP_URL)},
  credentials: { id: ${JSON.stringify(MCP_ID)}, secret: ${JSON.stringify(MCP_SECRET)} },
  revocationStream: false,
});
try {
  const p = await verifier.verify(process.argv[2], { scopes: process.argv[3].split(' ') });
  console.log(JSON.stringify({ sub: p.sub, scopes: p.scopes, kind: p.token_kind }));
} catch (e) {
  console.log(JSON.stringify({ error: e.code, status: e.status }));
}
`,
      );
    });

    it('installs as a real copy with its type declarations', () => {
      const installed = join(app, 'node_modules/@latchkey/sdk');
      assert.equal(lstatSync(installed).isSymbolicLink(), false, 'not a link into the repository');
      assert.ok(lstatSync(join(installed, 'dist/index.d.ts')).isFile());
    });

    it('verifies a real access token', async () => {
      const r = await run(accessToken, 'mcp:read');
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { sub?: string; scopes?: string[]; kind?: string };
      assert.equal(out.kind, 'oauth');
      assert.deepEqual(out.scopes, ['mcp:read']);
    });

    it('refuses a scope the token lacks (403) and a forged token (401)', async () => {
      assert.deepEqual(JSON.parse((await run(accessToken, 'mcp:write')).stdout), {
        error: 'insufficient_scope',
        status: 403,
      });
      assert.deepEqual(JSON.parse((await run(`${accessToken.slice(0, -4)}AAAA`, 'mcp:read')).stdout), {
        error: 'invalid_token',
        status: 401,
      });
    });
  });
});
