// Shared by the OAuth benches: the resource both servers issue tokens for, a Latchkey client with a
// remembered consent (so authorization codes come back at once), and the peer's code minting.
import { createHash, randomBytes } from 'node:crypto';
import { pool, signup } from './lib.mjs';

export const RESOURCE = 'https://mcp.example.com/mcp';
export const RS_ID = 'bench-mcp';
export const RS_SECRET = 'bench-resource-secret-0123456789abcdef';
export const REDIRECT = 'https://client.example.com/callback';

export const TOML = `[[resources]]
id = "${RS_ID}"
url = "${RESOURCE}"
name = "Bench MCP"
scopes = ["mcp:read", "mcp:run"]
secret = "${RS_SECRET}"
`;

export const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

export async function formPost(url, params) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** A person signed in to Latchkey who has consented once to a public client: codes come at once after that. */
export async function latchkeyClient(url) {
  const cookie = await signup(url);
  const reg = await fetch(`${url}/api/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
      client_name: 'Bench',
    }),
  });
  const { client_id: clientId } = await reg.json();
  const authorizeUrl = (challenge) =>
    `${url}/api/oauth/authorize?${new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      resource: RESOURCE,
      scope: 'mcp:read mcp:run',
    })}`;
  const page = await (await fetch(authorizeUrl(pkce().challenge), { headers: { cookie } })).text();
  const form = new URLSearchParams();
  for (const m of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    form.set(
      m[1],
      m[2].replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))),
    );
  }
  for (const m of page.matchAll(/name="scope" value="([^"]+)"/g)) form.append('scope', m[1]);
  form.set('decision', 'approve');
  const decided = await fetch(`${url}/consent`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: url },
    body: form.toString(),
    redirect: 'manual',
  });
  if (decided.status !== 303) throw new Error(`consent: ${decided.status}`);
  const codes = (n) =>
    pool(Array.from({ length: n }), 16, async () => {
      const p = pkce();
      const res = await fetch(authorizeUrl(p.challenge), { headers: { cookie }, redirect: 'manual' });
      const code = new URL(res.headers.get('location')).searchParams.get('code');
      if (!code) throw new Error(`authorize: ${res.status} ${res.headers.get('location')}`);
      return { code, verifier: p.verifier };
    });
  return { clientId, codes };
}

export async function peerCodes(url, n) {
  const out = [];
  for (let left = n; left > 0; left -= 500) {
    out.push(...(await (await fetch(`${url}/__codes?n=${Math.min(500, left)}`)).json()));
  }
  return out;
}
