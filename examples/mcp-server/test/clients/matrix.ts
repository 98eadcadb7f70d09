import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import {
  DEFAULT_PASSWORD,
  formFields,
  linkIn,
  readOutbox,
  testServer,
  type TestServer,
  tokenFrom,
  uniqueEmail,
} from '@latchkey/server/testing';
import { type RunningMcpServer, startMcpServer } from '../../src/server.js';

/**
 * The client matrix's shared stage: one real Latchkey (the server harness, listening on loopback)
 * and two instances of the example MCP server, each its own resource in Latchkey:
 *
 * - `scoped`: its 401 names the scope a first request needs (`scope="mcp:read"`, SEP-835);
 * - `bare`: its 401 names only the resource metadata, so clients fall back to `scopes_supported`.
 *
 * People are browsers over plain HTTP (a session cookie, Latchkey's Origin on unsafe requests)
 * that sign up, prove their address through the mailed link, and answer consent pages the way a
 * person does: the pre-ticked boxes, plus whatever the test says they tick.
 *
 * Latchkey and both MCP servers read one clock, which the test can move forward past an access
 * token's lifetime: every party then agrees the token is dead, as an hour later.
 */

export type Variant = 'scoped' | 'bare';
export const VARIANTS: readonly Variant[] = ['scoped', 'bare'];
/** How the client identifies itself: dynamic registration (RFC 7591) or a Client ID Metadata Document. */
export type Registration = 'dcr' | 'cimd';
export const REGISTRATIONS: readonly Registration[] = ['dcr', 'cimd'];
export const CELLS: readonly { variant: Variant; registration: Registration; name: string }[] =
  VARIANTS.flatMap((variant) =>
    REGISTRATIONS.map((registration) => ({
      variant,
      registration,
      name: `${variant} 401 · ${registration === 'dcr' ? 'dynamic registration' : 'metadata document'}`,
    })),
  );
/** The access-token lifetime Latchkey gives (one hour); `expire()` moves the clock past it. */
export const ACCESS_TOKEN_LIFETIME_MS = 60 * 60_000;

const SCOPES = ['mcp:read', 'mcp:run', 'mcp:act'];

/** Ports nobody listens on right now (on 127.0.0.1), so each URL can be named before its server starts. */
export async function freePorts(n: number): Promise<number[]> {
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

/** Resolves once `ready()` holds, checking every 10 ms; fails after `ms`. */
export async function until(ready: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition') {
  const deadline = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A browser: keeps the Latchkey session cookie, sends Latchkey's Origin on unsafe requests. */
export type Browser = (
  path: string,
  init?: { method?: string; form?: URLSearchParams; json?: unknown; org?: string },
) => Promise<Response>;

export interface Person {
  email: string;
  orgId: string;
  browser: Browser;
}

export interface Consent {
  /** Where the browser was sent back: the client's redirect URI with `code`, `state` and `iss`. */
  location: URL;
  /** The scope boxes the consent page offered (null: no page, a remembered consent answered). */
  offered: { value: string; checked: boolean }[] | null;
}

export interface Grant {
  id: string;
  client_id: string;
  resource: string;
  scopes: string[];
}

export interface Stage {
  issuer: string;
  latchkey: TestServer;
  mcp: Record<Variant, RunningMcpServer>;
  /** The resource URL (the MCP endpoint) of each variant. */
  url: Record<Variant, string>;
  /** Where each variant's protected resource metadata is (RFC 9728). */
  metadataUrl: Record<Variant, string>;
  person(tag: string): Promise<Person>;
  /**
   * The person opens `authorization` in their browser: the consent page (or a remembered consent's
   * immediate redirect), submitted with its pre-ticked boxes plus `tick`.
   */
  consent(
    person: Person,
    authorization: string | URL,
    o?: { tick?: readonly string[]; deny?: boolean },
  ): Promise<Consent>;
  grants(person: Person): Promise<Grant[]>;
  /**
   * The person revokes their grant for `variant`'s resource (DELETE /api/v1/me/grants/:id) and
   * waits until that MCP server has read the revocation from Latchkey's event stream.
   */
  revoke(person: Person, variant: Variant): Promise<Grant>;
  /** Latchkey's introspection answer for `token` at `variant`'s resource (RFC 7662). */
  introspect(variant: Variant, token: string): Promise<{ active: boolean; scope?: string }>;
  /** The audit events `action` in the person's org, newest first. */
  audit(person: Person, action: string): Promise<{ action: string; target: string | null }[]>;
  /**
   * Publishes a Client ID Metadata Document at an https URL on loopback (the client_id it returns),
   * served with a certificate made for this run that Latchkey, alone in this process, trusts.
   */
  clientDocument(name: string, doc: Record<string, unknown>): string;
  /** Moves every party's clock past the access-token lifetime. */
  expireAccessTokens(): void;
  close(): Promise<void>;
}

const RESOURCE_SECRET = 'example-mcp-resource-secret-0123456789';

/**
 * An https server on 127.0.0.1 serving Client ID Metadata Documents. MCP clients require an https
 * client_id URL; Latchkey (with CIMD_ALLOW_LOOPBACK) fetches it over TLS. The certificate is made
 * for this run with openssl, and only TLS connections to this server's port are told to trust it
 * (Node 20 reads NODE_EXTRA_CA_CERTS only at start), so nothing else in the process trusts more.
 */
async function documentHost(): Promise<{
  base: string;
  documents: Map<string, Record<string, unknown>>;
  close(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-cimd-'));
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(made.status, 0, made.stderr);
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const key = readFileSync(join(dir, 'key.pem'), 'utf8');
  rmSync(dir, { recursive: true, force: true });
  const documents = new Map<string, Record<string, unknown>>();
  const server: HttpsServer = createHttpsServer({ cert, key }, (req, res) => {
    const doc = documents.get(req.url ?? '');
    res.writeHead(doc ? 200 : 404, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
    res.end(JSON.stringify(doc ?? { error: 'not_found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const t = tls as unknown as { connect: (...args: unknown[]) => unknown };
  const original = t.connect;
  t.connect = function connect(this: unknown, ...args: unknown[]) {
    const o = args[0] as { port?: unknown; host?: unknown } | undefined;
    if (o && typeof o === 'object' && Number(o.port) === port && o.host === '127.0.0.1')
      args[0] = { ...o, ca: [cert] };
    return original.apply(this, args);
  };
  return {
    base: `https://127.0.0.1:${port}`,
    documents,
    async close() {
      t.connect = original;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export async function startStage(o: { env?: Record<string, string> } = {}): Promise<Stage> {
  const [latchkeyPort, scopedPort, barePort] = await freePorts(3);
  const issuer = `http://127.0.0.1:${latchkeyPort}`;
  const url: Record<Variant, string> = {
    scoped: `http://127.0.0.1:${scopedPort}/mcp`,
    bare: `http://127.0.0.1:${barePort}/mcp`,
  };
  let offset = 0;
  const now = () => Date.now() + offset;
  const toml = VARIANTS.map(
    (v) => `
[[resources]]
id = "example-${v}"
url = "${url[v]}"
name = "Example MCP (${v})"
scopes = ${JSON.stringify(SCOPES)}
secret = "${RESOURCE_SECRET}"
`,
  ).join('');
  const documents = await documentHost();
  const latchkey = await testServer({
    toml,
    env: { PUBLIC_URL: issuer, PORT: String(latchkeyPort), CIMD_ALLOW_LOOPBACK: 'true', ...o.env },
    clock: { now: () => new Date(now()) },
  });
  await latchkey.app.listen({ port: latchkeyPort!, host: '127.0.0.1' });
  const mcp = {} as Record<Variant, RunningMcpServer>;
  try {
    for (const v of VARIANTS) {
      mcp[v] = await startMcpServer({
        port: Number(new URL(url[v]).port),
        host: '127.0.0.1',
        issuer,
        resource: url[v],
        credentials: { id: `example-${v}`, secret: RESOURCE_SECRET },
        challengeScope: v === 'scoped',
        now,
      });
      assert.equal(mcp[v].url, url[v]);
    }
  } catch (err) {
    for (const m of Object.values(mcp)) await m.close();
    await latchkey.close();
    await documents.close();
    throw err;
  }

  function browser(): Browser {
    let cookie = '';
    return async (path, init = {}) => {
      const method = init.method ?? (init.form || init.json !== undefined ? 'POST' : 'GET');
      const headers: Record<string, string> = {};
      if (cookie) headers.cookie = cookie;
      if (init.org) headers['x-org-id'] = init.org;
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
      const set = res.headers
        .getSetCookie()
        .find((c) => /^(__Host-)?lk_session=/.test(c) && !/^[^=]+=;/.test(c));
      if (set) cookie = set.split(';')[0]!;
      return res;
    };
  }

  async function person(tag: string): Promise<Person> {
    const b = browser();
    const email = uniqueEmail(tag);
    const signup = await b('/api/auth/signup', {
      json: { email, password: DEFAULT_PASSWORD, name: `${tag} person` },
    });
    assert.equal(signup.status, 201, await signup.clone().text());
    const { org } = (await signup.json()) as { org: { id: string } };
    // Prove the address through the mailed link: its page, then its one button.
    let link = '';
    await until(
      async () => {
        const mail = (await readOutbox(latchkey.outboxDir)).find((m) => m.to === email);
        if (mail) link = linkIn(mail.text, `${issuer}/verify-email`);
        return mail !== undefined;
      },
      5000,
      'verification mail',
    );
    const verified = await b('/verify-email', { form: new URLSearchParams({ token: tokenFrom(link) }) });
    assert.equal(verified.status, 200, await verified.clone().text());
    return { email, orgId: org.id, browser: b };
  }

  async function consent(
    p: Person,
    authorization: string | URL,
    o: { tick?: readonly string[]; deny?: boolean } = {},
  ) {
    const tick = o.tick ?? [];
    const u = new URL(authorization);
    assert.equal(
      u.origin + u.pathname,
      `${issuer}/api/oauth/authorize`,
      'the client sends the person to Latchkey',
    );
    const page = await p.browser(u.pathname + u.search);
    if (page.status === 302 || page.status === 303) {
      return { location: new URL(page.headers.get('location')!), offered: null };
    }
    const html = await page.text();
    assert.equal(page.status, 200, html.slice(0, 500));
    const f = formFields(html);
    const form = new URLSearchParams(f.hidden);
    if (!f.hidden.org_id && f.orgs[0]) form.set('org_id', f.orgs[0]);
    for (const s of f.scopes) if (s.checked || tick.includes(s.value)) form.append('scope', s.value);
    form.set('decision', o.deny ? 'deny' : 'approve');
    const decided = await p.browser(f.action!, { form });
    assert.equal(decided.status, 303, await decided.clone().text());
    const location = new URL(decided.headers.get('location')!);
    assert.equal(location.searchParams.get('iss'), issuer);
    if (o.deny) assert.equal(location.searchParams.get('error'), 'access_denied');
    else assert.ok(location.searchParams.get('code'), `an authorization code: ${location}`);
    return { location, offered: f.scopes };
  }

  async function grants(p: Person): Promise<Grant[]> {
    const res = await p.browser('/api/v1/me/grants');
    assert.equal(res.status, 200);
    return ((await res.json()) as { data: Grant[] }).data;
  }

  async function revoke(p: Person, variant: Variant): Promise<Grant> {
    const grant = (await grants(p)).find((g) => g.resource === url[variant]);
    assert.ok(grant, `a grant for ${url[variant]}`);
    assert.equal(mcp[variant].health().revocations, 'connected');
    const res = await p.browser(`/api/v1/me/grants/${grant.id}`, { method: 'DELETE' });
    assert.equal(res.status, 204, await res.clone().text());
    const logged = await latchkey.deps.db
      .selectFrom('revocation_events')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirstOrThrow();
    await until(
      () => BigInt(mcp[variant].health().lastEventId ?? '0') >= BigInt(String(logged.id)),
      10_000,
      'the MCP server reads the revocation',
    );
    return grant;
  }

  async function introspect(variant: Variant, token: string) {
    const res = await fetch(`${issuer}/api/oauth/introspect`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`example-${variant}:${RESOURCE_SECRET}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token }).toString(),
    });
    assert.equal(res.status, 200);
    return (await res.json()) as { active: boolean; scope?: string };
  }

  async function audit(p: Person, action: string) {
    const res = await p.browser(`/api/v1/audit?action=${encodeURIComponent(action)}&limit=100`, {
      org: p.orgId,
    });
    assert.equal(res.status, 200, await res.clone().text());
    return ((await res.json()) as { data: { action: string; target: string | null }[] }).data;
  }

  return {
    issuer,
    latchkey,
    mcp,
    url,
    metadataUrl: {
      scoped: `${new URL(url.scoped).origin}/.well-known/oauth-protected-resource/mcp`,
      bare: `${new URL(url.bare).origin}/.well-known/oauth-protected-resource/mcp`,
    },
    person,
    consent,
    grants,
    revoke,
    introspect,
    audit,
    clientDocument(name, doc) {
      const path = `/clients/${name}.json`;
      const clientId = `${documents.base}${path}`;
      documents.documents.set(path, { ...doc, client_id: clientId });
      return clientId;
    },
    expireAccessTokens() {
      offset += ACCESS_TOKEN_LIFETIME_MS + 60_000;
    },
    async close() {
      for (const m of Object.values(mcp)) await m.close();
      await latchkey.close();
      await documents.close();
    },
  };
}

/** The scopes of a space-separated list, sorted (for comparing grants). */
export const scopeSet = (s: string | null | undefined) => (s ?? '').split(' ').filter(Boolean).sort();

/**
 * The browser follows the consent's redirect to the client's loopback listener (RFC 8252 §7.3):
 * one GET. `localhost` is the IPv4 loopback the listeners here bind. A listener that is not up yet
 * (some start it only after printing the URL; a person takes longer than this test to click) is
 * tried again, as a person reloads the page, for up to `patienceMs`. Resolves with the status, or
 * with 0 when the listener closed the connection without answering (some stop their server as
 * soon as they hold the code; whether they got it shows in what the client does next).
 */
export async function deliverRedirect(location: URL, patienceMs = 0): Promise<number> {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    try {
      return await getOnce(location);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function getOnce(location: URL): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: location.hostname === 'localhost' ? '127.0.0.1' : location.hostname,
        port: location.port,
        path: location.pathname + location.search,
        agent: false,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') resolve(0);
      else reject(err);
    });
    req.end();
  });
}
