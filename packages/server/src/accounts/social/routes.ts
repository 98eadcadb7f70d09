import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { ApiError, rateLimited } from '../../errors.js';
import { actorOf, checkReturnTo, principalOf, setHostCookie, setSessionCookie } from '../../http/request.js';
import type { App } from '../../http/types.js';
import { safeEqual } from '../../lib/secrets.js';
import { DEVICE_COOKIE, DEVICE_TTL_MS, deviceCookieValue } from '../devices.js';
import { proofChanges } from '../email-proof.js';
import { notifyNewDevice } from '../new-device.js';
import { accountLimiters, SOCIAL_LIMITS } from '../limits.js';
import { type ProviderId, type SocialErrorCode, toSocialError } from './provider.js';
import { configuredProviders, PROVIDER_IDS, PROVIDER_NAMES } from './registry.js';
import { completeSocialSignIn } from './resolve.js';
import { flowSecrets, startTransaction, takeTransaction, TRANSACTION_COOKIE } from './transaction.js';
import { redirect } from '../../http/schemas/responses.js';

const ReturnTo = Type.String({ maxLength: 4000 });
const Param = Type.String({ maxLength: 4000 });

/** Where a failed callback sends the browser: the login page, which says `code` in words. */
export function loginErrorUrl(code: SocialErrorCode, provider: ProviderId, returnTo: string | null): string {
  const q = new URLSearchParams({ error: code, provider });
  if (returnTo) q.set('return_to', returnTo);
  return `/login?${q.toString()}`;
}

/**
 * `/api/auth/oauth/{github|google}/start`, `…/link` and `…/callback`: sign-in and account linking
 * through GitHub and Google. The login transaction (state, PKCE verifier, nonce, return_to) stays
 * in the cache under a random id that only a short-lived HttpOnly cookie carries; the callback
 * takes it out (single use) and must match its `state`.
 */
export function socialRoutes(app: App, deps: Deps): void {
  const { config, cache, clock } = deps;
  const providers = configuredProviders(config, clock);
  const limits = accountLimiters(cache);
  const cookie = {
    path: '/api/auth/oauth/',
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: config.secureCookies,
  };

  for (const id of PROVIDER_IDS) {
    const name = PROVIDER_NAMES[id];
    const redirectUri = `${config.publicUrl}/api/auth/oauth/${id}/callback`;
    const providerOrThrow = () => {
      const p = providers.get(id);
      if (!p) throw new ApiError('not_found', `${name} sign-in is not configured on this server.`);
      return p;
    };

    /** Starts a transaction and returns the provider URL, or the error code to show. */
    const begin = async (
      reply: FastifyReply,
      ip: string,
      t: { returnTo: string | null; link: { userId: string; sessionId: string } | null },
    ): Promise<{ url: string } | { code: SocialErrorCode }> => {
      const p = providerOrThrow();
      const r = await limits.socialStartsPerIp.consume(ip);
      if (!r.allowed) throw rateLimited(r.retryAfterSeconds, 'Too many sign-ins started; try again later.');
      const { id: txId, tx } = await startTransaction(cache, { provider: id, ...t });
      try {
        const url = await p.authorizationUrl(flowSecrets(tx, redirectUri));
        reply.setCookie(TRANSACTION_COOKIE, txId, {
          ...cookie,
          maxAge: Math.floor(SOCIAL_LIMITS.transactionTtlMs / 1000),
        });
        return { url: url.href };
      } catch (err) {
        const e = toSocialError(err);
        reply.log.warn({ provider: id, code: e.code, reason: e.message }, 'could not start a social sign-in');
        return { code: e.code };
      }
    };

    app.get(
      `/api/auth/oauth/${id}/start`,
      {
        config: { auth: 'none' },
        schema: {
          tags: ['auth'],
          summary: `Sign in with ${name}: redirects to ${name}`,
          querystring: Type.Object({ return_to: Type.Optional(ReturnTo) }),
          response: {
            302: redirect(`To ${name}'s sign-in.`),
            303: redirect(`To the login page, when ${name} cannot be used now.`),
          },
        },
      },
      async (req, reply) => {
        const returnTo = checkReturnTo(req.query.return_to, config.publicUrl);
        const out = await begin(reply, req.ip, { returnTo, link: null });
        if ('code' in out) return reply.redirect(loginErrorUrl(out.code, id, returnTo), 303);
        return reply.redirect(out.url, 302);
      },
    );

    app.post(
      `/api/auth/oauth/${id}/link`,
      {
        config: { auth: 'user', scope: 'account:write' },
        schema: {
          tags: ['auth'],
          summary: `Link a ${name} account to yours: answers the URL to open in this browser`,
          body: Type.Object({ return_to: Type.Optional(ReturnTo) }, { additionalProperties: false }),
          response: { 200: Type.Object({ authorize_url: Type.String() }) },
        },
      },
      async (req, reply) => {
        const p = principalOf(req);
        if (p.kind !== 'session' || !p.user || !p.sessionId) {
          throw new ApiError('forbidden', 'Linking an account needs a browser session.');
        }
        const returnTo = checkReturnTo(req.body.return_to, config.publicUrl);
        if (req.body.return_to !== undefined && returnTo === null) {
          throw new ApiError('invalid_request', 'return_to must be a path on this server.');
        }
        const out = await begin(reply, req.ip, {
          returnTo,
          link: { userId: p.user.id, sessionId: p.sessionId },
        });
        if ('code' in out) {
          throw new ApiError('unavailable', `${name} could not be reached; try again in a moment.`);
        }
        return { authorize_url: out.url };
      },
    );

    app.get(
      `/api/auth/oauth/${id}/callback`,
      {
        config: { auth: 'optional', credentials: ['session'] },
        schema: {
          tags: ['auth'],
          summary: `Where ${name} sends the browser back; ends on the login page when sign-in fails`,
          querystring: Type.Object({
            code: Type.Optional(Param),
            state: Type.Optional(Param),
            error: Type.Optional(Param),
            error_description: Type.Optional(Param),
            iss: Type.Optional(Param),
          }),
          response: { 303: redirect('Signed in: to where the sign-in started; else to the login page.') },
        },
      },
      async (req, reply) => {
        const tx = await takeTransaction(cache, req.cookies[TRANSACTION_COOKIE]);
        reply.clearCookie(TRANSACTION_COOKIE, cookie);
        const fail = (code: SocialErrorCode) =>
          reply.redirect(loginErrorUrl(code, id, tx?.returnTo ?? null), 303);
        const provider = providers.get(id);
        if (!provider) return fail('provider_disabled');
        // A callback this browser did not start (login CSRF), a replay, or an expired start.
        if (!tx || tx.provider !== id || !safeEqual(req.query.state ?? '', tx.state))
          return fail('bad_state');
        const session = req.principal?.kind === 'session' ? req.principal : null;
        if (tx.link && (session?.user?.id !== tx.link.userId || session.sessionId !== tx.link.sessionId)) {
          return fail('bad_state');
        }

        let profile;
        try {
          const query = new URL(req.raw.url ?? '', 'http://latchkey.invalid').searchParams;
          profile = await provider.complete(query, flowSecrets(tx, redirectUri));
        } catch (err) {
          const e = toSocialError(err);
          req.log.warn({ provider: id, code: e.code, reason: e.message }, 'social sign-in failed');
          return fail(e.code);
        }

        const device = deviceCookieValue(req.cookies[DEVICE_COOKIE]);
        const out = await completeSocialSignIn(deps, actorOf(req), {
          provider: id,
          profile,
          link: tx.link ? { userId: tx.link.userId } : null,
          previous:
            session?.user && session.sessionId
              ? { userId: session.user.id, sessionId: session.sessionId }
              : null,
          device,
        });
        switch (out.kind) {
          case 'refused':
            return fail(out.code);
          case 'linked':
            return reply.redirect(tx.returnTo ?? '/', 303);
          case 'signed_in':
            if (out.ended) await deps.auth.changed({ token: out.ended });
            for (const change of proofChanges(out.proof)) await deps.auth.changed(change);
            await notifyNewDevice(deps, out.news, req.log);
            setSessionCookie(reply, config, out.token);
            setHostCookie(reply, config, {
              name: DEVICE_COOKIE,
              value: device,
              maxAgeSeconds: DEVICE_TTL_MS / 1000,
            });
            return reply.redirect(tx.returnTo ?? '/', 303);
        }
      },
    );
  }
}
