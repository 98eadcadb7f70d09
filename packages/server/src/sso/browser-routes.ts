import formbody from '@fastify/formbody';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { DEVICE_COOKIE, DEVICE_TTL_MS, deviceCookieValue, presentedDevice } from '../accounts/devices.js';
import { notifyNewDevice } from '../accounts/new-device.js';
import { isValidEmail, normalizeEmail } from '../lib/email.js';
import { audit } from '../audit/log.js';
import type { Deps } from '../deps.js';
import { rateLimited } from '../errors.js';
import { actorOf, checkReturnTo, safeReturnTo, setHostCookie, setSessionCookie } from '../http/request.js';
import type { App } from '../http/types.js';
import { safeEqual, UUID_RE } from '../lib/secrets.js';
import { PAGE_CSP } from '../http/html.js';
import { OIDC_REDIRECT_PATH, oidcSettingsOf, samlSettingsOf, spUrls } from './connections.js';
import { SsoError, type SsoErrorCode } from './errors.js';
import { failover } from './failover.js';
import { toSsoError } from './idp-fetch.js';
import { SSO_LIMITS } from './limits.js';
import { completeOidc, type SsoProfile, ssoRelyingParty } from './oidc.js';
import { continuePage, magicLinkSentPage, outagePage, ssoErrorPage } from './pages.js';
import {
  activeConnection,
  type ConnectionRow,
  getConnection,
  orgBySlugOrId,
  orgOfVerifiedDomain,
} from './queries.js';
import { completeSsoSignIn } from './resolve.js';
import { newSamlRequestId, samlAuthorizeUrl, spMetadata, validateSamlResponse } from './saml.js';
import {
  bindingMatches,
  newBinding,
  SSO_TX_COOKIE,
  samlBindingCookie,
  startSsoTransaction,
  takeSsoTransaction,
} from './transaction.js';

const Text = Type.String({ maxLength: 4000 });

/**
 * The browser side of SSO: `GET /api/sso/start` (by email domain or org slug), the OIDC
 * callback, the SAML ACS and SP metadata. Like `/api/oauth`, these are protocol endpoints outside
 * `/api/auth` and `/api/v1`: failures end on an HTML page that names a stable code (`data-code`),
 * and the ACS takes the form post the SAML HTTP-POST binding defines.
 */
export async function ssoBrowserRoutes(app: App, deps: Deps): Promise<void> {
  const { db, cache, config, clock } = deps;
  const starts = cache.limiter({ name: 'sso:starts', ...SSO_LIMITS.startsPerIp });
  const redirectUri = `${config.publicUrl}${OIDC_REDIRECT_PATH}`;
  const cookie = {
    path: '/api/sso/',
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: config.secureCookies,
  };
  // The SAML binding cookie must ride the IdP's cross-site POST: see `samlBindingCookie`.
  const bindCookieName = samlBindingCookie(config.secureCookies);
  const bindCookie = {
    path: '/api/sso/',
    httpOnly: true,
    sameSite: config.secureCookies ? ('none' as const) : ('lax' as const),
    secure: config.secureCookies,
  };
  await app.register(formbody, { bodyLimit: SSO_LIMITS.samlResponseMaxBytes * 2 });

  const html = (reply: FastifyReply, status: number, body: string) =>
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .header('content-security-policy', PAGE_CSP)
      .send(body);
  const fail = (reply: FastifyReply, code: SsoErrorCode) => {
    const p = ssoErrorPage(code);
    return html(reply, p.status, p.html);
  };

  /** The IdP is down: the org's failover rule answers. */
  const failOver = async (
    reply: FastifyReply,
    req: Parameters<typeof actorOf>[0],
    org: { id: string; name: string },
    email: string | null,
    returnTo: string | null,
  ) => {
    const out = await failover(deps, org, email, returnTo, req.log);
    await audit(db, clock, actorOf(req), {
      orgId: org.id,
      action: 'sso.idp_unreachable',
      target: `org:${org.id}`,
      data: { outcome: out.kind },
    });
    if (out.kind === 'outage') return html(reply, 503, outagePage(out.orgName, out.statusPageUrl));
    if (out.kind === 'magic_link') return html(reply, 200, magicLinkSentPage());
    return fail(reply, 'idp_unreachable');
  };

  /** Signs in whoever the IdP vouched for, or renders why not. */
  const finish = async (
    reply: FastifyReply,
    req: Parameters<typeof actorOf>[0],
    c: ConnectionRow,
    profile: SsoProfile,
    returnTo: string | null,
    via: 'redirect' | 'cross_site_post',
  ) => {
    // A SAML response is a cross-site POST: the browser's (SameSite=Lax) device cookie stays
    // behind, so its absence there says nothing about the browser, and it is left as it is.
    const presented = presentedDevice(req.cookies[DEVICE_COOKIE]);
    const device = presented ?? (via === 'redirect' ? deviceCookieValue(undefined) : null);
    try {
      const out = await completeSsoSignIn(deps, actorOf(req), { connection: c, profile, device });
      for (const change of out.changes) await deps.auth.changed(change);
      await notifyNewDevice(deps, out.news, req.log);
      setSessionCookie(reply, config, out.token);
      if (device)
        setHostCookie(reply, config, {
          name: DEVICE_COOKIE,
          value: device,
          maxAgeSeconds: DEVICE_TTL_MS / 1000,
        });
      return reply.redirect(safeReturnTo(returnTo, config.publicUrl), 303);
    } catch (err) {
      if (!(err instanceof SsoError)) throw err;
      req.log.warn({ connection: c.id, code: err.code }, 'SSO sign-in refused');
      return fail(reply, err.code);
    }
  };

  app.get(
    '/api/sso/start',
    {
      config: { auth: 'none' },
      schema: {
        // A browser / IdP protocol endpoint, like /api/oauth: not part of the JSON API document.
        hide: true,
        tags: ['auth'],
        summary: 'Sign in with SSO: by an email at a verified domain, or by org slug; redirects to the IdP',
        querystring: Type.Object({
          email: Type.Optional(Type.String({ maxLength: 254 })),
          org: Type.Optional(Type.String({ maxLength: 100 })),
          return_to: Type.Optional(Text),
          /** Sent by the login page's form: answer a page that links on, not a redirect. */
          form: Type.Optional(Type.String({ maxLength: 1 })),
        }),
      },
    },
    async (req, reply) => {
      const r = await starts.consume(req.ip);
      if (!r.allowed) throw rateLimited(r.retryAfterSeconds, 'Too many sign-ins started; try again later.');
      const returnTo = checkReturnTo(req.query.return_to, config.publicUrl);
      const email = req.query.email ? normalizeEmail(req.query.email) : null;
      if (email && !isValidEmail(email)) return fail(reply, 'no_connection');
      const org = email
        ? await orgOfVerifiedDomain(db, email.split('@')[1]!)
        : req.query.org
          ? await orgBySlugOrId(db, { slug: req.query.org })
          : undefined;
      const c = org ? await activeConnection(db, org.id) : undefined;
      if (!org || !c) return fail(reply, 'no_connection');
      const maxAge = Math.floor(SSO_LIMITS.transactionTtlMs / 1000);
      // SAML: the response must come back to this browser (the cookie) and answer this request.
      const saml = c.kind === 'saml' ? { binding: newBinding(), requestId: newSamlRequestId() } : null;
      const { id: txId, tx } = await startSsoTransaction(cache, {
        connectionId: c.id,
        returnTo,
        email,
        ...(saml ? { samlRequestId: saml.requestId, bindingHash: saml.binding.hash } : {}),
      });
      try {
        let url: string;
        if (!saml) {
          const rp = ssoRelyingParty(oidcSettingsOf(c, config));
          url = (await rp.authorizationUrl({ ...tx, redirectUri }, { loginHint: email })).href;
          reply.setCookie(SSO_TX_COOKIE, txId, { ...cookie, maxAge });
        } else {
          url = await samlAuthorizeUrl(samlSettingsOf(c, config.publicUrl), cache, {
            requestId: saml.requestId,
            relayState: txId,
          });
          reply.setCookie(bindCookieName, saml.binding.value, { ...bindCookie, maxAge });
        }
        return req.query.form ? html(reply, 200, continuePage(url)) : reply.redirect(url, 302);
      } catch (err) {
        const e = toSsoError(err);
        req.log.warn({ connection: c.id, code: e.code, reason: e.message }, 'could not start an SSO sign-in');
        if (e.code === 'idp_unreachable') return failOver(reply, req, org, email, returnTo);
        return fail(reply, e.code);
      }
    },
  );

  app.get(
    OIDC_REDIRECT_PATH,
    {
      config: { auth: 'none' },
      schema: {
        // A browser / IdP protocol endpoint, like /api/oauth: not part of the JSON API document.
        hide: true,
        tags: ['auth'],
        summary: 'Where an OIDC identity provider sends the browser back',
        querystring: Type.Object({
          code: Type.Optional(Text),
          state: Type.Optional(Text),
          error: Type.Optional(Text),
          error_description: Type.Optional(Text),
          iss: Type.Optional(Text),
        }),
      },
    },
    async (req, reply) => {
      const tx = await takeSsoTransaction(cache, req.cookies[SSO_TX_COOKIE]);
      reply.clearCookie(SSO_TX_COOKIE, cookie);
      if (!tx || !safeEqual(req.query.state ?? '', tx.state)) return fail(reply, 'bad_state');
      const c = await getConnection(db, tx.connectionId);
      if (!c || !c.enabled || c.kind !== 'oidc') return fail(reply, 'no_connection');
      let profile: SsoProfile;
      try {
        const rp = ssoRelyingParty(oidcSettingsOf(c, config));
        const query = new URL(req.raw.url ?? '', 'http://latchkey.invalid').searchParams;
        profile = await completeOidc(rp, query, { ...tx, redirectUri });
      } catch (err) {
        const e = toSsoError(err);
        req.log.warn({ connection: c.id, code: e.code, reason: e.message }, 'OIDC SSO sign-in failed');
        if (e.code === 'idp_unreachable') {
          const org = await orgBySlugOrId(db, { id: c.org_id });
          if (!org) return fail(reply, 'no_connection');
          return failOver(reply, req, org, tx.email, tx.returnTo);
        }
        return fail(reply, e.code);
      }
      return finish(reply, req, c, profile, tx.returnTo, 'redirect');
    },
  );

  app.post(
    '/api/sso/saml/acs/:id',
    {
      // The IdP's page posts here cross-site: the signed assertion, not an Origin, authenticates it.
      config: { auth: 'none', csrf: false },
      schema: {
        // A browser / IdP protocol endpoint, like /api/oauth: not part of the JSON API document.
        hide: true,
        tags: ['auth'],
        summary: 'SAML assertion consumer service (HTTP-POST binding)',
        params: Type.Object({ id: Type.String({ maxLength: 100 }) }),
        body: Type.Object(
          {
            SAMLResponse: Type.String({ maxLength: SSO_LIMITS.samlResponseMaxBytes }),
            RelayState: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const c = UUID_RE.test(req.params.id) ? await getConnection(db, req.params.id) : undefined;
      if (!c || !c.enabled || c.kind !== 'saml') return fail(reply, 'no_connection');
      // The flow is taken out first, whatever follows: a response is tried once per flow, and a
      // replay finds nothing. It must be this connection's, started by this very browser.
      const tx = await takeSsoTransaction(cache, req.body.RelayState);
      const cookieValue = req.cookies[bindCookieName];
      if (cookieValue !== undefined) reply.clearCookie(bindCookieName, bindCookie);
      if (!tx || tx.connectionId !== c.id || !tx.samlRequestId || !bindingMatches(tx, cookieValue)) {
        req.log.warn(
          { connection: c.id, flow: tx ? 'other_browser' : 'none' },
          'SAML response refused: not this browser’s sign-in',
        );
        return fail(reply, 'bad_state');
      }
      let profile: SsoProfile;
      try {
        profile = await validateSamlResponse(
          samlSettingsOf(c, config.publicUrl),
          cache,
          req.body.SAMLResponse,
          {
            expectedRequestId: tx.samlRequestId,
            now: () => clock.now().getTime(),
          },
        );
      } catch (err) {
        const e = toSsoError(err);
        req.log.warn({ connection: c.id, code: e.code, reason: e.message }, 'SAML response refused');
        await audit(db, clock, actorOf(req), {
          orgId: c.org_id,
          action: 'sso.assertion_refused',
          target: `sso_connection:${c.id}`,
          data: { code: e.code },
        });
        return fail(reply, e.code);
      }
      return finish(reply, req, c, profile, tx.returnTo, 'cross_site_post');
    },
  );

  app.get(
    '/api/sso/saml/metadata/:id',
    {
      config: { auth: 'none' },
      schema: {
        // A browser / IdP protocol endpoint, like /api/oauth: not part of the JSON API document.
        hide: true,
        tags: ['auth'],
        summary: 'Latchkey’s SAML service-provider metadata for a connection',
        params: Type.Object({ id: Type.String({ maxLength: 100 }) }),
      },
    },
    async (req, reply) => {
      const c = UUID_RE.test(req.params.id) ? await getConnection(db, req.params.id) : undefined;
      if (!c || c.kind !== 'saml') return fail(reply, 'no_connection');
      // The SP side does not depend on the IdP: before its metadata is in, stand-ins fill the gaps.
      const xml = await spMetadata(
        {
          connectionId: c.id,
          idpEntityId: c.saml_idp_entity_id ?? 'urn:latchkey:unset',
          idpSsoUrl: c.saml_idp_sso_url ?? `${config.publicUrl}/`,
          idpCerts: c.saml_idp_certs?.split('\n\n') ?? ['unset'],
          ...spUrls(config.publicUrl, c.id),
        },
        cache,
      );
      return reply.type('application/samlmetadata+xml; charset=utf-8').send(xml);
    },
  );
}
