import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { type Client, PUBLIC_URL, type TestServer } from '../../helpers/harness.js';
import { formFields } from '../helpers.js';

export const RP_REDIRECT = 'https://rp.example.com/callback';
export const RP_LOGOUT = 'https://rp.example.com/signed-out';

/**
 * The relying party's transport: openid-client's own `customFetch` option, answered by the
 * in-process server (`inject`) instead of a socket. Everything above the transport is the
 * unmodified library.
 */
export function injectFetch(t: TestServer): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const body = init?.body;
    const res = await t.app.inject({
      method: (init?.method ?? 'GET') as 'GET',
      url: `${url.pathname}${url.search}`,
      headers,
      remoteAddress: `10.77.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
      ...(body !== undefined && body !== null ? { payload: String(body) } : {}),
    });
    const out = new Headers();
    for (const [k, v] of Object.entries(res.headers))
      if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(', ') : String(v));
    return new Response(res.statusCode === 204 ? null : new Uint8Array(res.rawPayload), {
      status: res.statusCode,
      headers: out,
    });
  }) as typeof fetch;
}

/** Registers a relying party by dynamic registration and discovers Latchkey as openid-client does. */
export async function relyingParty(
  t: TestServer,
  o: { confidential?: boolean; alg?: 'ES256' | 'RS256' } = {},
): Promise<{ config: oidc.Configuration; clientId: string }> {
  const reg = await t.app.inject({
    method: 'POST',
    url: '/api/oauth/register',
    payload: {
      client_name: 'Relying Party',
      redirect_uris: [RP_REDIRECT],
      post_logout_redirect_uris: [RP_LOGOUT],
      token_endpoint_auth_method: o.confidential ? 'client_secret_basic' : 'none',
      ...(o.alg ? { id_token_signed_response_alg: o.alg } : {}),
    },
    remoteAddress: `10.78.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
  });
  assert.equal(reg.statusCode, 201, reg.body);
  const client = reg.json() as { client_id: string; client_secret?: string };
  const config = await oidc.discovery(
    new URL(PUBLIC_URL),
    client.client_id,
    o.alg ? { id_token_signed_response_alg: o.alg } : undefined,
    o.confidential ? oidc.ClientSecretBasic(client.client_secret!) : oidc.None(),
    { execute: [oidc.allowInsecureRequests], [oidc.customFetch]: injectFetch(t) as never },
  );
  return { config, clientId: client.client_id };
}

/**
 * The browser's part: opens the authorization URL with its session, approves the consent page when
 * one is shown, and returns where it was sent (the RP's callback, or /login).
 */
export async function browse(browser: Client, url: URL | string): Promise<URL> {
  const u = new URL(url);
  const page = await browser.get(`${u.pathname}${u.search}`);
  if (page.statusCode === 303) return new URL(page.headers.location as string, PUBLIC_URL);
  assert.equal(page.statusCode, 200, page.body.slice(0, 500));
  const f = formFields(page.body);
  const body = new URLSearchParams(f.hidden);
  if (!f.hidden.org_id && f.orgs[0]) body.set('org_id', f.orgs[0]);
  for (const s of f.scopes) if (s.checked) body.append('scope', s.value);
  body.set('decision', 'approve');
  const res = await browser.req({
    method: 'POST',
    url: f.action ?? '/consent',
    body: body.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(res.statusCode, 303, res.body.slice(0, 500));
  return new URL(res.headers.location as string, PUBLIC_URL);
}

/** A sign-in request's parameters, PKCE and nonce included. */
export async function signInRequest(config: oidc.Configuration, extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: RP_REDIRECT,
    scope: 'openid profile email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    nonce,
    state,
    ...extra,
  });
  return { url, verifier, nonce, state };
}
