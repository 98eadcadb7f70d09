import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  MCP_ID,
  MCP_SECRET,
  MCP_URL,
  OAUTH_TOML,
  testServer,
  type TestServer,
  tokensFor,
} from '@latchkey/server/testing';

/**
 * The README's examples (packages/sdk/examples/*.ts, included in packages/sdk/README.md verbatim)
 * each run as their own program, importing `@latchkey/sdk` as an application would, against a live
 * Latchkey, and are called with real tokens.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLES = join(ROOT, 'packages/sdk/examples');
const HTTP_EXAMPLES = ['express', 'fastify', 'hono', 'fetch'] as const;
const START_TIMEOUT_MS = 60_000;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

const running: ChildProcess[] = [];

/** Starts an example as a program of its own; resolves with the URL it prints once listening. */
function startExample(name: string, issuer: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(EXAMPLES, `${name}.ts`)], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LATCHKEY_URL: issuer,
      RESOURCE_URL: MCP_URL,
      RESOURCE_ID: MCP_ID,
      RESOURCE_SECRET: MCP_SECRET,
      PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${out}`)), START_TIMEOUT_MS);
    const seen = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!.replace(/\/$/, ''));
      }
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}):\n${out}`)));
  });
}

describe('@latchkey/sdk README examples, each against a live Latchkey', () => {
  let t: TestServer;
  let issuer: string;
  let readToken: string;
  let otherScopeToken: string;

  before(async () => {
    // The examples import the package by name: its exports point at the compiled dist/.
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', 'packages/sdk'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    t = await testServer({ toml: OAUTH_TOML, env: { PUBLIC_URL: issuer } });
    await t.app.listen({ port, host: '127.0.0.1' });
    const b = t.client();
    const signup = await t.app.inject({
      method: 'POST',
      url: '/api/auth/signup',
      headers: { origin: issuer },
      payload: {
        email: `sdk-examples-${Date.now()}@example.com`,
        password: 'a sturdy passphrase 42',
        name: 'Ex',
      },
    });
    b.cookie = signup.cookies.find((c) => c.name === 'lk_session')!.value;
    const orig = b.req.bind(b);
    b.req = (r) => orig({ ...r, headers: { origin: issuer, ...r.headers } });
    readToken = (await tokensFor(t, b, { scope: 'mcp:read' })).tokens.access_token;
    otherScopeToken = (await tokensFor(t, b, { scope: 'mcp:run' })).tokens.access_token;
  });

  after(async () => {
    for (const c of running) c.kill('SIGTERM');
    await t?.close();
  });

  it('the README shows each example file verbatim', () => {
    const readme = readFileSync(join(ROOT, 'packages/sdk/README.md'), 'utf8');
    for (const name of [...HTTP_EXAMPLES, 'mcp']) {
      const code = readFileSync(join(EXAMPLES, `${name}.ts`), 'utf8');
      assert.ok(
        readme.includes(`<!-- examples/${name}.ts -->\n\`\`\`ts\n${code}\`\`\``),
        `packages/sdk/README.md includes examples/${name}.ts verbatim, after <!-- examples/${name}.ts -->`,
      );
    }
  });

  for (const name of HTTP_EXAMPLES) {
    it(`${name}: serves a real token; refuses none, a forged one and one without the scope`, async () => {
      const base = await startExample(name, issuer);
      const notes = (token?: string) =>
        fetch(`${base}/api/notes`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

      const ok = await notes(readToken);
      assert.equal(ok.status, 200, await ok.clone().text());
      const who = (await ok.json()) as { sub: string; org_id: string | null; scopes: string[] };
      assert.ok(who.sub);
      assert.deepEqual(who.scopes, ['mcp:read']);

      const none = await notes();
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate') ?? '', /resource_metadata="[^"]+"/);

      const forged = await notes(`${readToken.slice(0, -4)}AAAA`);
      assert.equal(forged.status, 401);
      assert.equal(((await forged.json()) as { error: string }).error, 'invalid_token');

      const scope = await notes(otherScopeToken);
      assert.equal(scope.status, 403);
      assert.equal(((await scope.json()) as { error: string }).error, 'insufficient_scope');

      const prm = await fetch(`${base}/.well-known/oauth-protected-resource/mcp`);
      assert.equal(prm.status, 200);
      assert.deepEqual(((await prm.json()) as { authorization_servers: string[] }).authorization_servers, [
        issuer,
      ]);
    });
  }

  it('mcp: an MCP client with a real token calls a tool that sees the principal; none gets 401', async () => {
    const base = await startExample('mcp', issuer);
    const client = new Client({ name: 'examples-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${readToken}` } },
      }),
    );
    const out = (await client.callTool({ name: 'whoami', arguments: {} })) as {
      content: { type: string; text: string }[];
    };
    await client.close();
    const who = JSON.parse(out.content[0]!.text) as { sub: string; scopes: string[] };
    assert.ok(who.sub);
    assert.deepEqual(who.scopes, ['mcp:read']);

    const none = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /resource_metadata=/);
  });
});
