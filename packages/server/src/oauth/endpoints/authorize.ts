import formbody from '@fastify/formbody';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { audit } from '../../audit/log.js';
import { SESSION_COOKIE } from '../../auth/session-cookie.js';
import { membershipsOf } from '../../orgs/context.js';
import { formToken, formTokenValid } from '../../http/csrf.js';
import { actorOf } from '../../http/request.js';
import type { App } from '../../http/types.js';
import { PAGE_CSP, pageCsp, renderMessage } from '../../http/html.js';
import {
  type AuthorizationRequest,
  checkAuthorizationRequest,
  eligibleOrgs,
  RedirectError,
  UntrustedRedirectError,
} from '../authorization-request.js';
import { issueCode } from '../store/codes.js';
import { recordConsent, rememberedGrant } from '../store/consents.js';
import { approvableScopes, approvingOrg } from '../store/approvals.js';
import { oidcContext, oidcSessionStep } from '../oidc/authorize-step.js';
import { consentPage } from './consent-page.js';
import type { OAuthError } from '../errors.js';
import type { OAuthDeps } from '../grants/types.js';
import { withParams } from '../redirect-uri.js';
import { AUTHORIZE_RESPONSES, AuthorizeQuery } from '../../http/schemas/oauth.js';
import { isProtocolScope } from '../scope.js';

/** The parameters the consent form carries back, re-checked in full on submit. */
const CARRIED = [
  'client_id',
  'redirect_uri',
  'response_type',
  'state',
  'code_challenge',
  'code_challenge_method',
  'resource',
  'nonce',
] as const;

function sessionUser(req: FastifyRequest) {
  return req.principal?.kind === 'session' ? req.principal.user : null;
}

function html(reply: FastifyReply, status: number, body: string, csp = PAGE_CSP): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', csp)
    .send(body);
}

/**
 * `GET /api/oauth/authorize` and the consent form's `POST /consent`. Errors found before the
 * redirect URI is trusted are pages; later ones go back to the client with `state` and `iss`
 * (RFC 9207). No session → `/login`, then back here.
 */
export async function authorizeEndpoint(app: App, deps: OAuthDeps): Promise<void> {
  const { db, clock, config, catalogue } = deps;
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  const issuer = config.publicUrl;

  const redirectBack = (reply: FastifyReply, uri: string, params: Record<string, string | undefined>) =>
    reply.redirect(withParams(uri, { ...params, iss: issuer }), 303);

  /** Renders or redirects an authorization error; anything else propagates. */
  const answerError = (reply: FastifyReply, err: unknown) => {
    if (err instanceof UntrustedRedirectError)
      return html(reply, 400, renderMessage('Authorisation request refused', err.description));
    if (err instanceof RedirectError) {
      return redirectBack(reply, err.redirectUri, {
        error: err.error.code,
        error_description: err.error.description,
        state: err.state,
      });
    }
    throw err;
  };

  const approve = async (
    req: FastifyRequest,
    reply: FastifyReply,
    a: AuthorizationRequest,
    userId: string,
    orgId: string,
    scopes: readonly string[],
    grantId: string | null,
    adminApproved = false,
  ) => {
    const sessionId = req.principal?.sessionId;
    const oidc = a.oidc && sessionId ? await oidcContext(deps, a.oidc, sessionId) : null;
    if (a.oidc && !oidc)
      return redirectBack(reply, a.redirectUri, { error: 'login_required', state: a.state });
    const code = await db.transaction().execute(async (trx) => {
      const id =
        grantId ??
        (await recordConsent(trx, clock, actorOf(req), {
          userId,
          orgId,
          clientId: a.client.id,
          resource: a.resource.url,
          scopes,
          adminApproved,
        }));
      return issueCode(trx, clock, { request: a, grantId: id, userId, orgId, scopes, oidc });
    });
    return redirectBack(reply, a.redirectUri, { code, state: a.state });
  };

  app.get(
    '/api/oauth/authorize',
    {
      config: { auth: 'optional', credentials: ['session'] },
      schema: {
        operationId: 'authorize',
        summary: 'Authorization endpoint (browser): sign-in, consent, then a redirect with a code',
        querystring: AuthorizeQuery,
        response: AUTHORIZE_RESPONSES,
      },
    },
    async (req, reply) => {
      let a: AuthorizationRequest;
      try {
        a = await checkAuthorizationRequest(deps, req.query as Record<string, unknown>);
      } catch (err) {
        return answerError(reply, err);
      }
      const user = sessionUser(req);
      if (!user) {
        if (a.prompt === 'none')
          return redirectBack(reply, a.redirectUri, { error: 'login_required', state: a.state });
        return reply.redirect(`/login?return_to=${encodeURIComponent(req.url)}`, 303);
      }
      // OpenID Connect: prompt=login, max_age and id_token_hint may ask for a fresh sign-in.
      if (a.oidc) {
        const step = await oidcSessionStep(deps, {
          request: a.oidc,
          userId: user.id,
          sessionId: req.principal!.sessionId!,
          url: req.url,
        });
        if (step.kind === 'error')
          return redirectBack(reply, a.redirectUri, {
            error: step.error,
            error_description: step.description,
            state: a.state,
          });
        if (step.kind === 'login')
          return reply.redirect(`/login?reauth=1&return_to=${encodeURIComponent(step.returnTo)}`, 303);
      }
      const orgs = eligibleOrgs(a.client, await membershipsOf(deps, user.id));
      if (orgs.length === 0) {
        return redirectBack(reply, a.redirectUri, {
          error: 'access_denied',
          error_description: 'You are not a member of an organisation this client can act in.',
          state: a.state,
        });
      }
      const askAgain =
        a.prompt === 'consent' || a.oidc?.prompt.has('consent') || a.oidc?.prompt.has('select_account');
      if (!askAgain) {
        const remembered = await rememberedGrant(db, {
          userId: user.id,
          clientId: a.client.id,
          resource: a.resource.url,
          scopes: a.scopes,
          orgIds: orgs.map((o) => o.id),
        });
        if (remembered) return approve(req, reply, a, user.id, remembered.orgId, a.scopes, remembered.id);
        // An org admin approved this client for the org: its members skip consent for ordinary scopes.
        if (approvableScopes(catalogue, a.scopes)) {
          const orgId = await approvingOrg(
            db,
            a.client.id,
            orgs.map((o) => o.id),
          );
          if (orgId) return approve(req, reply, a, user.id, orgId, a.scopes, null, true);
        }
      }
      if (a.prompt === 'none')
        return redirectBack(reply, a.redirectUri, { error: 'consent_required', state: a.state });
      const carried: Record<string, string> = {};
      for (const k of CARRIED) {
        const v = (req.query as Record<string, unknown>)[k];
        if (typeof v === 'string') carried[k] = v;
      }
      carried.scope_requested = a.scopes.join(' ');
      carried.csrf_token = formToken(req.cookies[SESSION_COOKIE]!);
      return html(
        reply,
        200,
        consentPage({
          client: a.client,
          resource: a.resource,
          // OpenID scopes are not boxes to untick: the page says what signing in shares.
          scopes: a.scopes.filter((s) => !isProtocolScope(s)),
          ...(a.oidc ? { identity: a.oidc.scopes } : {}),
          catalogue,
          orgs,
          action: '/consent',
          hidden: carried,
          redirectUri: a.redirectUri,
        }),
        // Approving or denying ends in a 303 to the client: the form may go there.
        pageCsp([a.redirectUri]),
      );
    },
  );

  app.post(
    '/consent',
    { config: { auth: 'optional', credentials: ['session'] }, schema: { hide: true } },
    async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const user = sessionUser(req);
      if (!user)
        return html(
          reply,
          401,
          renderMessage('Signed out', 'Your session ended. Start the authorisation again.'),
        );
      if (!formTokenValid(req.cookies[SESSION_COOKIE], body.csrf_token)) {
        return html(
          reply,
          403,
          renderMessage(
            'Request refused',
            'This form was not issued to your session. Start the authorisation again.',
          ),
        );
      }
      const params: Record<string, unknown> = {};
      for (const k of CARRIED) if (body[k] !== undefined) params[k] = body[k];
      if (typeof body.scope_requested === 'string') params.scope = body.scope_requested;
      let a: AuthorizationRequest;
      try {
        a = await checkAuthorizationRequest(deps, params);
      } catch (err) {
        return answerError(reply, err);
      }
      const fail = (code: OAuthError['code'], description: string) =>
        redirectBack(reply, a.redirectUri, { error: code, error_description: description, state: a.state });
      const decision = body.decision;
      const orgs = eligibleOrgs(a.client, await membershipsOf(deps, user.id));
      const org = typeof body.org_id === 'string' ? orgs.find((o) => o.id === body.org_id) : undefined;
      if (decision !== 'approve') {
        await audit(db, clock, actorOf(req), {
          orgId: org?.id ?? null,
          action: 'oauth.consent_denied',
          target: `client:${a.client.id}`,
          data: { client_id: a.client.id, user_id: user.id, resource: a.resource.url, scopes: a.scopes },
        });
        return fail('access_denied', 'The person denied the request.');
      }
      if (!org) return fail('access_denied', 'You cannot authorise this client in that organisation.');
      const ticked = body.scope === undefined ? [] : Array.isArray(body.scope) ? body.scope : [body.scope];
      if (ticked.some((s) => typeof s !== 'string' || !a.scopes.includes(s))) {
        return fail('invalid_scope', 'A scope was granted that the client did not ask for.');
      }
      const granted = a.scopes.filter((s) => isProtocolScope(s) || ticked.includes(s));
      if (granted.length === 0) return fail('access_denied', 'No scope was granted.');
      return approve(req, reply, a, user.id, org.id, granted, null);
    },
  );
}
