// test-backend: embedded — the subject is an MCP client's behaviour, not storage
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  auth,
  extractWWWAuthenticateParams,
  type OAuthClientProvider,
  UnauthorizedError,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  DEFAULT_PASSWORD,
  formFields,
  testServer,
  type TestServer,
  uniqueEmail,
} from '@latchkey/server/testing';
import { type RunningMcpServer, startMcpServer } from '../src/server.js';

const RESOURCE_ID = 'example-mcp';
const RESOURCE_SECRET = 'example-mcp-resource-secret-0123456789';
/** Nothing listens here: the test reads the code from the consent's 303, as a loopback listener would. */
const REDIRECT_URL = 'http://127.0.0.1:8976/callback';

/** Ports nobody listens on right now (on 127.0.0.1), so each URL can be named before its server starts. */
async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** Resolves once `ready()` holds, checking every 5 ms; fails after `ms`. */
async function until(ready: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`not ready within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The client application's side: an in-memory `OAuthClientProvider`. `redirectToAuthorization`
 * only records the URL; the test plays the person who opens it.
 */
class MemoryProvider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  lastState = '';
  /** Every authorization URL the client asked the person to open, oldest first. */
  readonly authorizations: URL[] = [];

  get redirectUrl() {
    return REDIRECT_URL;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'MCP e2e client',
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this.lastState = randomBytes(16).toString('base64url');
    return this.lastState;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizations.push(url);
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  invalidateCredentials(what: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery') {
    if (what === 'all' || what === 'client') this.client = undefined;
    if (what === 'all' || what === 'tokens') this.saved = undefined;
    if (what === 'all' || what === 'verifier') this.verifier = '';
  }
}

interface Exchange {
  at: 'mcp' | 'latchkey';
  method: string;
  path: string;
  status: number;
  /** Token endpoint requests: the grant type. */
  grant?: string;
  /** 401 and 403: the WWW-Authenticate header. */
  challenge?: string;
}

describe('the example MCP server, driven by the official MCP client', () => {
  let latchkey: TestServer | undefined;
  let mcp: RunningMcpServer | undefined;
  let issuer: string;
  let resource: string;
  const clients: Client[] = [];

  before(async () => {
    const [latchkeyPort, mcpPort] = await freePorts(2);
    issuer = `http://127.0.0.1:${latchkeyPort}`;
    resource = `http://127.0.0.1:${mcpPort}/mcp`;
    latchkey = await testServer({
      toml: `
[[resources]]
id = "${RESOURCE_ID}"
url = "${resource}"
name = "Example MCP"
scopes = ["mcp:read", "mcp:run", "mcp:act"]
secret = "${RESOURCE_SECRET}"
`,
      env: { PUBLIC_URL: issuer, PORT: String(latchkeyPort) },
    });
    await latchkey.app.listen({ port: latchkeyPort, host: '127.0.0.1' });
    mcp = await startMcpServer({
      port: mcpPort!,
      host: '127.0.0.1',
      issuer,
      resource,
      credentials: { id: RESOURCE_ID, secret: RESOURCE_SECRET },
      // The bare challenge: the client falls back to the resource's scopes_supported. The client
      // matrix (test/clients/) covers the challenge that names a scope as well.
      challengeScope: false,
    });
    assert.equal(mcp.url, resource);
  });

  after(async () => {
    for (const c of clients) await c.close();
    await mcp?.close();
    await latchkey?.close();
  });

  /** The person's browser: keeps the Latchkey session cookie, sends Latchkey's Origin on unsafe requests. */
  function browser() {
    let cookie = '';
    return async (
      path: string,
      init: { method?: string; form?: URLSearchParams; json?: unknown } = {},
    ): Promise<Response> => {
      const method = init.method ?? (init.form || init.json !== undefined ? 'POST' : 'GET');
      const headers: Record<string, string> = {};
      if (cookie) headers.cookie = cookie;
      let body: string | undefined;
      if (init.form) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = init.form.toString();
      } else if (init.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(init.json);
      }
      if (method !== 'GET') headers.origin = issuer;
      const res = await fetch(new URL(path, issuer), { method, headers, body, redirect: 'manual' });
      const set = res.headers.getSetCookie().find((c) => c.startsWith('lk_session='));
      if (set) cookie = set.split(';')[0]!;
      return res;
    };
  }

  /**
   * The person opens the authorization URL (signed in), sees the consent page, submits it with the
   * boxes ticked by default plus `tick`, and the browser lands on the client's redirect URI.
   */
  async function approve(b: ReturnType<typeof browser>, provider: MemoryProvider, tick: string[] = []) {
    const url = provider.authorizations.at(-1);
    assert.ok(url, 'the client asked the person to authorise');
    assert.equal(url.origin + url.pathname, `${issuer}/api/oauth/authorize`);
    assert.equal(url.searchParams.get('resource'), resource);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    const page = await b(url.pathname + url.search);
    assert.equal(page.status, 200);
    const f = formFields(await page.text());
    const form = new URLSearchParams(f.hidden);
    if (!f.hidden.org_id && f.orgs[0]) form.set('org_id', f.orgs[0]);
    for (const s of f.scopes) if (s.checked || tick.includes(s.value)) form.append('scope', s.value);
    form.set('decision', 'approve');
    const decided = await b(f.action!, { form });
    assert.equal(decided.status, 303, await decided.clone().text());
    const back = new URL(decided.headers.get('location')!);
    assert.equal(back.origin + back.pathname, REDIRECT_URL);
    assert.equal(back.searchParams.get('iss'), issuer);
    assert.equal(back.searchParams.get('state'), provider.lastState);
    const code = back.searchParams.get('code');
    assert.ok(code);
    return { code, offered: f.scopes };
  }

  it('serves its resource metadata (RFC 9728) and answers 401 without a valid token', async () => {
    const origin = new URL(resource).origin;
    const prm = await fetch(`${origin}/.well-known/oauth-protected-resource/mcp`);
    assert.equal(prm.status, 200);
    assert.deepEqual(await prm.json(), {
      resource,
      authorization_servers: [issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['mcp:read', 'mcp:run', 'mcp:act'],
      resource_name: 'Latchkey example MCP server',
    });
    const challenge = `resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`;
    for (const init of [{ method: 'GET' }, { method: 'POST', body: '{}' }, { method: 'DELETE' }]) {
      const res = await fetch(resource, init);
      assert.equal(res.status, 401, init.method);
      assert.equal(res.headers.get('www-authenticate'), `Bearer ${challenge}`);
    }
    const bogus = await fetch(resource, {
      method: 'POST',
      headers: { authorization: 'Bearer lk_at_not-a-real-token', 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(bogus.status, 401);
    assert.equal(bogus.headers.get('www-authenticate'), `Bearer error="invalid_token", ${challenge}`);
    assert.equal((await fetch(`${origin}/elsewhere`)).status, 404);
  });

  /** The client's HTTP, recorded: the tests assert what went over the wire, in order. */
  const exchanges: Exchange[] = [];
  const recording: FetchLike = async (input, init) => {
    const u = new URL(String(input));
    const res = await fetch(input, init);
    const e: Exchange = {
      at: u.origin === issuer ? 'latchkey' : 'mcp',
      method: init?.method ?? 'GET',
      path: u.pathname,
      status: res.status,
    };
    if (init?.body instanceof URLSearchParams) e.grant = init.body.get('grant_type') ?? undefined;
    const challenge = res.headers.get('www-authenticate');
    if (challenge) e.challenge = challenge;
    exchanges.push(e);
    return res;
  };
  const since = (mark: number) =>
    exchanges.slice(mark).map((e) => `${e.at} ${e.method} ${e.path} ${e.status}`);
  const prmUrl = () => `${new URL(resource).origin}/.well-known/oauth-protected-resource/mcp`;

  // One person, one client application, one connection, carried through the steps below in order.
  const provider = new MemoryProvider();
  const person = browser();
  let client: Client;
  let transport: StreamableHTTPClientTransport;
  let challenge: string;

  it('first contact: 401 → resource metadata → Latchkey metadata → registration → consent → token', async () => {
    const signup = await person('/api/auth/signup', {
      json: { email: uniqueEmail('mcp'), password: DEFAULT_PASSWORD, name: 'MCP Person' },
    });
    assert.equal(signup.status, 201, await signup.clone().text());

    // Knowing only the server URL.
    const first = new StreamableHTTPClientTransport(new URL(resource), {
      authProvider: provider,
      fetch: recording,
    });
    const firstClient = new Client({ name: 'mcp-e2e', version: '1.0.0' });
    clients.push(firstClient);
    await assert.rejects(firstClient.connect(first), UnauthorizedError);
    assert.deepEqual(since(0), [
      'mcp POST /mcp 401',
      'mcp GET /.well-known/oauth-protected-resource/mcp 200',
      'latchkey GET /.well-known/oauth-authorization-server 200',
      'latchkey POST /api/oauth/register 201',
    ]);
    assert.equal(exchanges[0]!.challenge, `Bearer resource_metadata="${prmUrl()}"`);
    assert.equal(provider.authorizations.length, 1);
    // The client asks for the resource's scopes_supported; the high-risk one starts unticked.
    assert.equal(provider.authorizations[0]!.searchParams.get('scope'), 'mcp:read mcp:run mcp:act');
    const consent = await approve(person, provider);
    assert.deepEqual(consent.offered, [
      { value: 'mcp:read', checked: true },
      { value: 'mcp:run', checked: true },
      { value: 'mcp:act', checked: false },
    ]);
    const mark = exchanges.length;
    await first.finishAuth(consent.code);
    assert.deepEqual(since(mark).slice(-1), ['latchkey POST /api/oauth/token 200']);
    assert.equal(exchanges.at(-1)!.grant, 'authorization_code');
    assert.equal(provider.saved?.scope, 'mcp:read mcp:run');
    assert.match(provider.saved?.access_token ?? '', /^lk_at_/);
  });

  it('with the token: tools/list shows the three tools; list_notes and run_job succeed', async () => {
    transport = new StreamableHTTPClientTransport(new URL(resource), {
      authProvider: provider,
      fetch: recording,
    });
    client = new Client({ name: 'mcp-e2e', version: '1.0.0' });
    clients.push(client);
    await client.connect(transport);
    const tools = await client.listTools();
    assert.deepEqual(tools.tools.map((t) => t.name).sort(), ['deploy', 'list_notes', 'run_job']);
    const notes = await client.callTool({ name: 'list_notes', arguments: {} });
    assert.notEqual(notes.isError, true);
    assert.match(JSON.stringify(notes.content), /Release checklist/);
    const job = await client.callTool({ name: 'run_job', arguments: { job: 'test' } });
    assert.notEqual(job.isError, true);
    assert.match(JSON.stringify(job.content), /queued/);
  });

  it('deploy without mcp:act: HTTP 403 insufficient_scope naming the scopes to ask for', async () => {
    const mark = exchanges.length;
    await assert.rejects(
      client.callTool({ name: 'deploy', arguments: { environment: 'staging' } }),
      (err: unknown) => err instanceof StreamableHTTPError && err.code === 403,
    );
    const refused = exchanges.slice(mark).filter((e) => e.at === 'mcp' && e.status === 403);
    assert.ok(refused.length >= 1);
    challenge = refused[0]!.challenge!;
    assert.equal(
      challenge,
      `Bearer error="insufficient_scope", scope="mcp:read mcp:run mcp:act", resource_metadata="${prmUrl()}"`,
    );
    // The official client (1.32) answers the 403 with a plain refresh, which cannot widen the
    // grant, gets the same 403 and gives up without asking the person (see the README).
    assert.deepEqual(
      exchanges
        .slice(mark)
        .filter((e) => e.grant)
        .map((e) => `${e.grant} ${e.status}`),
      ['refresh_token 200'],
    );
    assert.equal(provider.authorizations.length, 1);
  });

  it('step-up: re-authorised with the scope the 403 named, the person ticks mcp:act; deploy succeeds', async () => {
    const wanted = extractWWWAuthenticateParams(
      new Response(null, { headers: { 'www-authenticate': challenge } }),
    );
    assert.equal(wanted.error, 'insufficient_scope');
    provider.invalidateCredentials('tokens'); // else auth() only refreshes again
    const started = await auth(provider, {
      serverUrl: new URL(resource),
      scope: wanted.scope,
      resourceMetadataUrl: wanted.resourceMetadataUrl,
      fetchFn: recording,
    });
    assert.equal(started, 'REDIRECT');
    assert.equal(provider.authorizations.length, 2);
    assert.equal(provider.authorizations[1]!.searchParams.get('scope'), 'mcp:read mcp:run mcp:act');
    const consent = await approve(person, provider, ['mcp:act']);
    await transport.finishAuth(consent.code);
    assert.equal(provider.saved?.scope, 'mcp:read mcp:run mcp:act');
    const deployed = await client.callTool({ name: 'deploy', arguments: { environment: 'staging' } });
    assert.notEqual(deployed.isError, true);
    assert.match(JSON.stringify(deployed.content), /deployed/);
    // What the token held before is still held.
    assert.notEqual((await client.callTool({ name: 'list_notes', arguments: {} })).isError, true);
  });

  it('the person revokes the grant: the very next tool call is refused with a 401', async () => {
    const grants = await person('/api/v1/me/grants');
    assert.equal(grants.status, 200);
    const grant = (
      (await grants.json()) as { data: { id: string; resource: string; scopes: string[] }[] }
    ).data.find((g) => g.resource === resource);
    assert.ok(grant);
    assert.deepEqual([...grant.scopes].sort(), ['mcp:act', 'mcp:read', 'mcp:run']);
    assert.equal(mcp!.health().revocations, 'connected');
    const revoked = await person(`/api/v1/me/grants/${grant.id}`, { method: 'DELETE' });
    assert.equal(revoked.status, 204, await revoked.clone().text());
    // The revocation reaches the MCP server over Latchkey's event stream, a moment after the 204:
    // wait until the verifier has read the last event logged (no MCP call in between), so that the
    // call below meets a warm cache that the event has emptied, not a race with the event.
    const logged = await latchkey!.deps.db
      .selectFrom('revocation_events')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirstOrThrow();
    await until(() => BigInt(mcp!.health().lastEventId ?? '0') >= BigInt(String(logged.id)));
    const mark = exchanges.length;
    await assert.rejects(client.callTool({ name: 'list_notes', arguments: {} }), UnauthorizedError);
    const after401 = exchanges.slice(mark);
    assert.equal(since(mark)[0], 'mcp POST /mcp 401');
    assert.match(after401[0]!.challenge ?? '', /^Bearer error="invalid_token", resource_metadata="/);
    // The client's refresh dies with the grant, so it asks the person again.
    assert.ok(after401.some((e) => e.grant === 'refresh_token' && e.status === 400));
    assert.equal(provider.authorizations.length, 3);
  });
});
