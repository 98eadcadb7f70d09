import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small local server speaking the parts of GitHub's OAuth and REST API that Latchkey uses:
 * `GET /login/oauth/authorize` (signs in `next` at once, or denies, and redirects back with
 * code + state), `POST /login/oauth/access_token` (checks the client secret, the redirect URI,
 * PKCE S256 and single use, like GitHub answering errors with 200), `GET /user` and
 * `GET /user/emails` (with `verified` flags).
 */
export interface GithubUser {
  id: number;
  login: string;
  name: string | null;
  emails: { email: string; primary: boolean; verified: boolean }[];
}

export interface GithubStandIn {
  url: string;
  clientId: string;
  clientSecret: string;
  /** Who signs in at the next authorize request. */
  next: GithubUser | null;
  /** When set, the authorize endpoint answers `error=access_denied`. */
  deny: boolean;
  /** Token requests seen, with their parameters (secrets included, for assertions). */
  tokenRequests: URLSearchParams[];
  env(): Record<string, string>;
  close(): Promise<void>;
}

let ids = 1000;
/** A GitHub user with one primary address, verified or not. */
export function githubUser(email: string, verified = true, extra: Partial<GithubUser> = {}): GithubUser {
  const id = ++ids + Math.floor(Math.random() * 1_000_000);
  return { id, login: `octo${id}`, name: 'Octo Cat', emails: [{ email, primary: true, verified }], ...extra };
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.on('data', (d) => (s += d));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, value: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(value));
}

export async function startGithub(): Promise<GithubStandIn> {
  const codes = new Map<string, { user: GithubUser; redirectUri: string; challenge: string }>();
  const tokens = new Map<string, GithubUser>();
  const stand: GithubStandIn = {
    url: '',
    clientId: 'gh-client-id',
    clientSecret: 'gh-client-secret-0123456789',
    next: null,
    deny: false,
    tokenRequests: [],
    env() {
      return {
        GITHUB_CLIENT_ID: this.clientId,
        GITHUB_CLIENT_SECRET: this.clientSecret,
        GITHUB_AUTHORIZE_URL: `${this.url}/login/oauth/authorize`,
        GITHUB_TOKEN_URL: `${this.url}/login/oauth/access_token`,
        GITHUB_API_URL: `${this.url}/api`,
      };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', stand.url);
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      const q = url.searchParams;
      const redirect = new URL(q.get('redirect_uri') ?? '');
      if (q.get('client_id') !== stand.clientId || q.get('code_challenge_method') !== 'S256') {
        return json(res, 400, { error: 'bad authorize request' });
      }
      redirect.searchParams.set('state', q.get('state') ?? '');
      if (stand.deny || !stand.next) {
        redirect.searchParams.set('error', 'access_denied');
        redirect.searchParams.set('error_description', 'The user has denied your application access.');
      } else {
        const code = randomBytes(10).toString('hex');
        codes.set(code, {
          user: stand.next,
          redirectUri: q.get('redirect_uri')!,
          challenge: q.get('code_challenge') ?? '',
        });
        redirect.searchParams.set('code', code);
      }
      res.writeHead(302, { location: redirect.href });
      return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      const p = new URLSearchParams(await body(req));
      stand.tokenRequests.push(p);
      const grant = codes.get(p.get('code') ?? '');
      codes.delete(p.get('code') ?? '');
      const verifier = p.get('code_verifier') ?? '';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (
        !grant ||
        p.get('client_id') !== stand.clientId ||
        p.get('client_secret') !== stand.clientSecret ||
        p.get('redirect_uri') !== grant.redirectUri ||
        challenge !== grant.challenge
      ) {
        // GitHub answers token errors with 200 and an error body.
        return json(res, 200, {
          error: 'bad_verification_code',
          error_description: 'The code is incorrect.',
        });
      }
      const token = `gho_${randomBytes(16).toString('hex')}`;
      tokens.set(token, grant.user);
      return json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
    }
    const user = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /i, ''));
    if (req.method === 'GET' && url.pathname === '/api/user') {
      if (!user) return json(res, 401, { message: 'Bad credentials' });
      return json(res, 200, { id: user.id, login: user.login, name: user.name, email: null });
    }
    if (req.method === 'GET' && url.pathname === '/api/user/emails') {
      if (!user) return json(res, 401, { message: 'Bad credentials' });
      return json(
        res,
        200,
        user.emails.map((e) => ({ ...e, visibility: e.primary ? 'private' : null })),
      );
    }
    json(res, 404, { message: 'Not Found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  stand.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return stand;
}
