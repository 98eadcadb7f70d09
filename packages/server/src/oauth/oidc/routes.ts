import formbody from '@fastify/formbody';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SESSION_COOKIE } from '../../auth/session-cookie.js';
import { formToken, formTokenValid } from '../../http/csrf.js';
import { actorOf, clearSessionCookie } from '../../http/request.js';
import type { App } from '../../http/types.js';
import { sendOAuthError, toOAuthError } from '../error-routes.js';
import type { OAuthDeps } from '../grants/types.js';
import { withParams } from '../redirect-uri.js';
import { escapeHtml } from '../../mail/templates.js';
import { PAGE_CSP, page, pageCsp, renderMessage } from '../../http/html.js';
import { checkEndSession, EndSessionError, endSession, type EndSessionRequest } from './end-session.js';
import { userinfo } from './userinfo.js';
import { Jwks, UserinfoAnswer } from '../../http/schemas/oauth.js';

export const JWKS_PATH = '/.well-known/jwks.json';
export const USERINFO_PATH = '/api/oauth/userinfo';
export const END_SESSION_PATH = '/api/oauth/end-session';

/** The parameters the logout confirmation form carries back. */
const CARRIED = ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state'] as const;

function html(reply: FastifyReply, status: number, body: string, csp = PAGE_CSP): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', csp)
    .send(body);
}

/**
 * The OpenID Provider's own endpoints: the JWK Set, UserInfo (RFC 6750 errors) and RP-initiated
 * logout (pages). Discovery is the authorization server metadata (`oauth/routes.ts`).
 */
export async function oidcRoutes(app: App, deps: OAuthDeps): Promise<void> {
  const { config } = deps;
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  app.setErrorHandler((err, req, reply) => {
    if (req.routeOptions.url === END_SESSION_PATH)
      return html(reply, 400, renderMessage('Sign-out request refused', 'The request is not valid.'));
    reply.header('access-control-allow-origin', '*');
    return sendOAuthError(reply, toOAuthError(err, req));
  });

  const jwksSchema = {
    operationId: 'jwks',
    summary: 'The JWK Set that signs ID tokens and JWT access tokens',
    response: { 200: Jwks },
  };
  app.get(JWKS_PATH, { config: { auth: 'none' }, schema: jwksSchema }, async (_req, reply) => {
    // Short enough that a verifier sees a newly published key well within its 24 h lead.
    reply.header('cache-control', 'public, max-age=300').header('access-control-allow-origin', '*');
    return deps.keys.jwks();
  });

  app.route({
    method: ['GET', 'POST'],
    url: USERINFO_PATH,
    // Bearer only: a cookie is never a credential here.
    config: { auth: 'none', csrf: false },
    schema: {
      summary: 'UserInfo (OpenID Connect Core §5.3): the claims of an access token holding `openid`',
      security: [{ bearer: [] }],
      response: { 200: UserinfoAnswer },
    },
    handler: async (req, reply) => {
      const claims = await userinfo(deps, req);
      reply.header('cache-control', 'no-store').header('access-control-allow-origin', '*');
      return claims;
    },
  });

  const signedOut = (reply: FastifyReply, r: EndSessionRequest) =>
    r.redirectUri
      ? reply.redirect(withParams(r.redirectUri, { state: r.state }), 303)
      : html(reply, 200, renderMessage('Signed out', 'You are signed out of Latchkey.'));

  const handle = async (req: FastifyRequest, reply: FastifyReply, params: Record<string, unknown>) => {
    let r: EndSessionRequest;
    try {
      r = await checkEndSession(deps, params);
    } catch (err) {
      if (err instanceof EndSessionError)
        return html(reply, 400, renderMessage('Sign-out request refused', err.description));
      throw err;
    }
    const p = req.principal?.kind === 'session' ? req.principal : null;
    if (!p?.user || !p.sessionId) return signedOut(reply, r);
    // Without a hint naming this person, the browser may have been sent here by anyone: ask.
    const confirmed =
      req.method === 'POST' && params.confirm === 'yes'
        ? formTokenValid(req.cookies[SESSION_COOKIE], params.csrf_token)
        : r.hintedSub === p.user.id && (r.hintedSid === null || r.hintedSid === p.sessionId);
    if (!confirmed) {
      const hidden = CARRIED.map((k) =>
        typeof params[k] === 'string'
          ? `<input type="hidden" name="${k}" value="${escapeHtml(params[k] as string)}">`
          : '',
      ).join('');
      const body = `<p>Sign out of Latchkey as ${escapeHtml(p.user.email)}?</p>
<form method="post" action="${END_SESSION_PATH}">${hidden}<input type="hidden" name="csrf_token" value="${escapeHtml(formToken(req.cookies[SESSION_COOKIE]!))}"><input type="hidden" name="confirm" value="yes"><button type="submit">Sign out</button></form>`;
      return html(reply, 200, page('Sign out', body), pageCsp(r.redirectUri ? [r.redirectUri] : []));
    }
    const ended = await endSession(deps, actorOf(req), {
      userId: p.user.id,
      sessionId: p.sessionId,
      clientId: r.clientId,
    });
    if (ended) await deps.auth.changed({ token: ended });
    clearSessionCookie(reply, config);
    return signedOut(reply, r);
  };

  app.get(
    END_SESSION_PATH,
    { config: { auth: 'optional', credentials: ['session'] }, schema: { hide: true } },
    (req, reply) => handle(req, reply, req.query as Record<string, unknown>),
  );
  // An RP may also POST the request (RP-Initiated Logout §2) from its own origin: the session is
  // ended only with a hint naming the signed-in person, or through our own form's token.
  app.post(
    END_SESSION_PATH,
    { config: { auth: 'optional', credentials: ['session'], csrf: false }, schema: { hide: true } },
    (req, reply) => handle(req, reply, (req.body ?? {}) as Record<string, unknown>),
  );
}
