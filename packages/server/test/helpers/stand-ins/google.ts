import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

/**
 * node-oidc-provider standing in for Google: one confidential client with Latchkey's redirect
 * URI, PKCE required, RS256 ID tokens with `email` and `email_verified`, and an interaction
 * that signs `next` in (and consents) at once — or refuses with `access_denied` when `deny` is
 * set. `stop()` closes the server, to make the provider unreachable mid-flow.
 */
export interface GoogleAccount {
  sub: string;
  email: string;
  /** The ID token's `email_verified` as sent: a boolean, a string, or `'unstated'` to leave it out. */
  email_verified: boolean | 'true' | 'false' | 'unstated';
  name: string;
}

export interface GoogleStandIn {
  issuer: string;
  clientId: string;
  clientSecret: string;
  next: GoogleAccount | null;
  deny: boolean;
  env(): Record<string, string>;
  stop(): Promise<void>;
}

let n = 0;
export function googleAccount(
  email: string,
  verified: GoogleAccount['email_verified'] = true,
): GoogleAccount {
  return { sub: `g-${Date.now()}-${++n}`, email, email_verified: verified, name: 'Grace Hopper' };
}

export async function startGoogle(redirectUri: string): Promise<GoogleStandIn> {
  const accounts = new Map<string, GoogleAccount>();
  let provider: Provider | null = null;
  const server: Server = createServer((req, res) => {
    if (!provider) return res.end();
    if (req.url?.startsWith('/interaction/')) {
      void (async () => {
        const details = await provider!.interactionDetails(req, res);
        if (stand.deny || !stand.next) {
          return provider!.interactionFinished(
            req,
            res,
            { error: 'access_denied', error_description: 'The person said no.' },
            { mergeWithLastSubmission: false },
          );
        }
        accounts.set(stand.next.sub, stand.next);
        const grant = new provider!.Grant({
          accountId: stand.next.sub,
          clientId: String(details.params.client_id),
        });
        grant.addOIDCScope('openid email profile');
        const grantId = await grant.save();
        await provider!.interactionFinished(
          req,
          res,
          { login: { accountId: stand.next.sub }, consent: { grantId } },
          { mergeWithLastSubmission: false },
        );
      })().catch((err: Error) => {
        res.statusCode = 500;
        res.end(err.message);
      });
      return;
    }
    provider.callback()(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'stand-in' };

  const stand: GoogleStandIn = {
    issuer,
    clientId: 'google-client-id.apps.example',
    clientSecret: 'google-client-secret-0123456789',
    next: null,
    deny: false,
    env() {
      return {
        GOOGLE_CLIENT_ID: this.clientId,
        GOOGLE_CLIENT_SECRET: this.clientSecret,
        GOOGLE_ISSUER: issuer,
      };
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  provider = new Provider(issuer, {
    clients: [
      {
        client_id: stand.clientId,
        client_secret: stand.clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['google-stand-in-cookie-key'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // Like Google: the ID token carries the claims, not only the userinfo endpoint.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, i: { uid: string }) => `/interaction/${i.uid}` },
    pkce: { required: () => true },
    ttl: {
      AuthorizationCode: 60,
      AccessToken: 600,
      IdToken: 600,
      Interaction: 600,
      Grant: 600,
      Session: 600,
    },
    findAccount: async (_ctx: unknown, sub: string) => {
      const a = accounts.get(sub);
      if (!a) return undefined;
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          email: a.email,
          ...(a.email_verified === 'unstated' ? {} : { email_verified: a.email_verified }),
          name: a.name,
        }),
      };
    },
  });
  // Errors the provider renders itself are answers, not crashes; keep the test output quiet.
  provider.on('server_error', () => {});
  return stand;
}
