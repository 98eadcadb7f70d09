import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import type { Client, TestServer } from '../helpers/harness.js';

/** The resource server every OAuth test configures. */
export const MCP_URL = 'https://mcp.example.com/mcp';
export const MCP_ID = 'example-mcp';
export const MCP_SECRET = 'mcp-resource-secret-0123456789abcdef';
export const OTHER_URL = 'https://other.example.com/api';
export const OTHER_ID = 'other-api';
export const OTHER_SECRET = 'other-resource-secret-0123456789abcdef';
export const REDIRECT = 'https://client.example.com/callback';

export const OAUTH_TOML = `
[[resources]]
id = "${MCP_ID}"
url = "${MCP_URL}"
name = "Example MCP"
secret = "${MCP_SECRET}"

[[resources]]
id = "${OTHER_ID}"
url = "${OTHER_URL}"
name = "Other API"
scopes = ["other:read", "other:write"]
secret = "${OTHER_SECRET}"

[scopes."other:write"]
description = "Write to the other API"
risk = "high"
`;

export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/** A form-encoded POST without cookies (how OAuth clients call the token endpoints). */
export function form(
  t: TestServer,
  url: string,
  params: Record<string, string>,
  opts: { basic?: [string, string]; headers?: Record<string, string>; ip?: string } = {},
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    ...opts.headers,
  };
  if (opts.basic) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(opts.basic[0])}:${encodeURIComponent(opts.basic[1])}`).toString('base64')}`;
  }
  return t.app.inject({
    method: 'POST',
    url,
    headers,
    payload: new URLSearchParams(params).toString(),
    remoteAddress: opts.ip ?? `10.99.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
  });
}

export interface Registered {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  grant_types: string[];
  token_endpoint_auth_method: string;
}

export async function register(t: TestServer, meta: Record<string, unknown> = {}): Promise<Registered> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/oauth/register',
    payload: {
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      client_name: 'Test Client',
      ...meta,
    },
    remoteAddress: `10.98.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as Registered;
}

/** Every `<input type="hidden">` of an HTML page, and the checkbox values named `scope` with their state. */
export function formFields(html: string) {
  const hidden: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    hidden[m[1]!] = unescape(m[2]!);
  const scopes: { value: string; checked: boolean }[] = [];
  for (const m of html.matchAll(/<input type="checkbox"[^>]*name="scope" value="([^"]+)"([^>]*)>/g)) {
    scopes.push({ value: unescape(m[1]!), checked: m[2]!.includes('checked') });
  }
  const orgs = [...html.matchAll(/<option value="([^"]+)">/g)].map((m) => m[1]!);
  const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1];
  return { hidden, scopes, orgs, action };
}

function unescape(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCharCode(Number.parseInt(n, 16)))
    .replace(/&amp;/g, '&');
}

export interface AuthorizeOptions {
  clientId: string;
  redirectUri?: string;
  resource?: string;
  scope?: string;
  state?: string;
  challenge?: string;
  extra?: Record<string, string>;
}

export function authorizeUrl(o: AuthorizeOptions): string {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: o.clientId,
    redirect_uri: o.redirectUri ?? REDIRECT,
    code_challenge: o.challenge ?? pkce().challenge,
    code_challenge_method: 'S256',
    resource: o.resource ?? MCP_URL,
    state: o.state ?? 'st-123',
    ...(o.scope ? { scope: o.scope } : {}),
    ...o.extra,
  });
  return `/api/oauth/authorize?${q}`;
}

/**
 * Drives authorize → consent as a browser without JavaScript would: GET the authorize URL with
 * the session, submit the consent form (ticked boxes, plus `tick`), return the redirect's params.
 */
export async function consent(
  browser: Client,
  url: string,
  o: { decision?: 'approve' | 'deny'; tick?: string[]; untick?: string[]; org?: string } = {},
): Promise<URL> {
  const page = await browser.get(url);
  if (page.statusCode === 303) return new URL(page.headers.location as string);
  assert.equal(page.statusCode, 200, page.body);
  const f = formFields(page.body);
  const body = new URLSearchParams(f.hidden);
  if (o.org) body.set('org_id', o.org);
  else if (!f.hidden.org_id && f.orgs[0]) body.set('org_id', f.orgs[0]);
  for (const s of f.scopes) {
    if ((s.checked || o.tick?.includes(s.value)) && !o.untick?.includes(s.value))
      body.append('scope', s.value);
  }
  body.set('decision', o.decision ?? 'approve');
  const res = await browser.req({
    method: 'POST',
    url: f.action ?? '/consent',
    body: body.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(res.statusCode, 303, res.body);
  return new URL(res.headers.location as string);
}

/** Registers a public client, authorises it as `browser` and exchanges the code. */
export async function tokensFor(
  t: TestServer,
  browser: Client,
  o: { resource?: string; scope?: string; tick?: string[]; client?: Registered; org?: string } = {},
) {
  const client = o.client ?? (await register(t));
  const p = pkce();
  const back = await consent(
    browser,
    authorizeUrl({
      clientId: client.client_id,
      resource: o.resource,
      scope: o.scope,
      challenge: p.challenge,
    }),
    {
      tick: o.tick,
      ...(o.org ? { org: o.org } : {}),
    },
  );
  const code = back.searchParams.get('code');
  assert.ok(code, back.href);
  const res = await form(t, '/api/oauth/token', {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    code_verifier: p.verifier,
    client_id: client.client_id,
    resource: o.resource ?? MCP_URL,
  });
  assert.equal(res.statusCode, 200, res.body);
  return {
    client,
    tokens: res.json() as {
      access_token: string;
      refresh_token?: string;
      scope: string;
      expires_in: number;
      token_type: string;
    },
  };
}

/** A person's org with a confidential app allowed client_credentials (mcp:read): its credentials. */
export async function workerApp(t: TestServer) {
  const owner = t.client();
  const { org } = await owner.signup();
  const res = await owner.post(
    '/api/v1/oauth/clients',
    { name: 'Worker', type: 'confidential', grant_types: ['client_credentials'], scopes: ['mcp:read'] },
    org.id,
  );
  assert.equal(res.statusCode, 201, res.body);
  const app = res.json() as { client_id: string; client_secret: string };
  return { owner, org, app, basic: [app.client_id, app.client_secret] as [string, string] };
}

export function introspect(t: TestServer, token: string, as: [string, string] = [MCP_ID, MCP_SECRET]) {
  return form(t, '/api/oauth/introspect', { token }, { basic: as });
}
