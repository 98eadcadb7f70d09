import { createHash, randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CliError, EXIT } from './errors.js';
import { type ServerMetadata, type TokenSet, tokenRequest } from './oauth.js';
import { openUrl } from './open.js';

/** How long `login --browser` waits for the browser to come back. */
export const BROWSER_LOGIN_TIMEOUT_MS = 10 * 60_000;

export interface BrowserLoginOptions {
  clientId: string;
  resource: string;
  scopes: string[];
  /** Called with the URL the person must open, once the loopback listener is ready. */
  onUrl(url: string): void;
  /** Also try to open it in the default browser. */
  open: boolean;
}

/**
 * The authorization code flow for a native app (RFC 8252): a listener on 127.0.0.1 with an
 * ephemeral port receives the redirect; PKCE S256 binds the code to this process, `state` binds
 * the redirect to this request, and `iss` (RFC 9207) to this server. Only a redirect carrying our
 * `state` ends the wait; anything else hitting the port is answered and ignored.
 */
export async function browserLogin(
  server: string,
  meta: ServerMetadata & { authorization_response_iss_parameter_supported?: boolean },
  o: BrowserLoginOptions,
): Promise<TokenSet> {
  if (!meta.code_challenge_methods_supported?.includes('S256'))
    throw new CliError(EXIT.failed, 'pkce_unsupported', `${server} does not support PKCE with S256.`);
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(16).toString('base64url');

  const listener = createServer();
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = listener.address() as AddressInfo;
  const redirectUri = `http://127.0.0.1:${port}/callback`;
  const url = new URL(meta.authorization_endpoint);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: o.clientId,
    redirect_uri: redirectUri,
    scope: o.scopes.join(' '),
    resource: o.resource,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }))
    url.searchParams.set(k, v);

  let params: URLSearchParams;
  try {
    params = await new Promise<URLSearchParams>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new CliError(EXIT.auth, 'login_timeout', 'Gave up waiting for the browser.', {
              hint: 'Run `latchkey login --browser` again.',
            }),
          ),
        BROWSER_LOGIN_TIMEOUT_MS,
      );
      listener.on('request', (req, res) => {
        const u = new URL(req.url ?? '/', redirectUri);
        if (req.method !== 'GET' || u.pathname !== '/callback') return page(res, 404, 'Not found.');
        if (u.searchParams.get('state') !== state)
          return page(
            res,
            400,
            'This is not the sign-in latchkey is waiting for. Start again from the terminal.',
          );
        clearTimeout(timer);
        const failed = u.searchParams.has('error');
        page(
          res,
          failed ? 400 : 200,
          failed
            ? 'The sign-in did not complete. See the terminal.'
            : 'Signed in. You can close this tab and return to the terminal.',
        );
        resolve(u.searchParams);
      });
      o.onUrl(url.href);
      if (o.open) openUrl(url.href);
    });
  } finally {
    listener.close();
    listener.closeIdleConnections();
  }

  const error = params.get('error');
  if (error === 'access_denied') throw new CliError(EXIT.auth, 'access_denied', 'The sign-in was denied.');
  if (error)
    throw new CliError(
      EXIT.failed,
      error.slice(0, 100),
      `The server refused the sign-in (${error.slice(0, 100)}).`,
    );
  const iss = params.get('iss');
  if (iss !== null ? iss !== meta.issuer : meta.authorization_response_iss_parameter_supported === true)
    throw new CliError(EXIT.auth, 'issuer_mismatch', 'The sign-in answer did not come from this server.');
  const code = params.get('code');
  if (!code) throw new CliError(EXIT.failed, 'no_code', 'The sign-in answer carried no authorization code.');
  return tokenRequest(server, meta, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    client_id: o.clientId,
    resource: o.resource,
  });
}

/** A fixed, static page: nothing from the request is echoed back. */
function page(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    connection: 'close',
  });
  res.end(`<!doctype html><meta charset="utf-8"><title>Latchkey CLI</title><p>${message}</p>\n`);
}
