import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { type Actor } from '../../auth/principal.js';
import { audit } from '../../audit/log.js';
import type { Deps } from '../../deps.js';
import { ApiError } from '../../errors.js';
import { actorOf, setHostCookie, setSessionCookie } from '../../http/request.js';
import { Timestamp } from '../../http/shapes.js';
import type { App } from '../../http/types.js';
import { listUserOrgs } from '../../orgs/queries.js';
import { findPendingSession, type PendingSession, sessionAuthInfo } from '../sessions.js';
import { SESSION_COOKIE } from '../../auth/session-cookie.js';
import { DEVICE_COOKIE, DEVICE_TTL_MS, deviceCookieValue } from '../devices.js';
import { notifyNewDevice, signedInFromDevice } from '../new-device.js';
import { signIn } from '../signin.js';
import { factorsOf, methodsOf } from './factors.js';
import { expired, finishWithCode, finishWithEnrolment, finishWithPasskey } from './pending.js';
import { passkeyAuthenticationOptions, verifyPasskeyAssertion } from './passkeys.js';
import { beginTotp, issuerOf } from './totp.js';
import { totpStore } from './totp-store.js';
import { endSession, userSummary } from '../queries.js';
import { AssertionBody, CodeBody, Methods, Options, RecoveryCodes, SignedIn, TotpStart } from './shapes.js';

/**
 * Signing in with a second factor: finishing a pending sign-in (`/api/auth/second-factor*`) and
 * passwordless sign-in with a passkey (`/api/auth/passkey*`).
 */
export function secondFactorSigninRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;

  /** The pending sign-in this browser holds (its cookie), or 401 `second_factor_required`. */
  const pendingOf = async (req: FastifyRequest): Promise<PendingSession> => {
    const token = req.cookies[SESSION_COOKIE];
    const p = token ? await findPendingSession(db, clock, token) : null;
    if (!p) throw expired();
    return p;
  };
  const whoFor = (req: FastifyRequest, userId: string): Actor => ({
    ...actorOf(req),
    actor: `user:${userId}`,
    userId,
  });
  const browserOf = (req: FastifyRequest) => ({ device: req.cookies[DEVICE_COOKIE], log: req.log });
  const signedIn = async (s: { userId: string; orgId: string | null; id: string }) => {
    const user = await userSummary(db, s.userId);
    const org = s.orgId ? ((await listUserOrgs(db, s.userId)).find((o) => o.id === s.orgId) ?? null) : null;
    const info = await sessionAuthInfo(db, clock, s.id);
    return {
      user,
      org: org ? { id: org.id, slug: org.slug, name: org.name, role: org.role } : null,
      amr: info?.amr ?? [],
    };
  };

  // ---- finishing a pending sign-in ------------------------------------------------------------

  app.get(
    '/api/auth/second-factor',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['auth'],
        response: {
          200: Type.Object({
            state: Type.Union([Type.Literal('second_factor'), Type.Literal('enrol')]),
            methods: Methods,
            expires_at: Timestamp,
          }),
        },
      },
    },
    async (req) => {
      const p = await pendingOf(req);
      return {
        state: p.pending,
        methods: p.pending === 'second_factor' ? methodsOf(await factorsOf(db, p.userId)) : [],
        expires_at: p.expiresAt.toISOString(),
      };
    },
  );

  app.post(
    '/api/auth/second-factor',
    { config: { auth: 'none' }, schema: { tags: ['auth'], body: CodeBody, response: { 200: SignedIn } } },
    async (req, reply) => {
      const p = await pendingOf(req);
      const out = await finishWithCode(deps, whoFor(req, p.userId), p, req.body, browserOf(req));
      setSessionCookie(reply, config, out.session.token);
      return {
        ...(await signedIn(out.session)),
        ...(out.recoveryCodesLeft !== null ? { recovery_codes_left: out.recoveryCodesLeft } : {}),
      };
    },
  );

  app.post(
    '/api/auth/second-factor/passkey-options',
    { config: { auth: 'none' }, schema: { tags: ['auth'], response: { 200: Options } } },
    async (req) => {
      const p = await pendingOf(req);
      if (p.pending !== 'second_factor')
        throw new ApiError('invalid_request', 'This sign-in is an enrolment.');
      return passkeyAuthenticationOptions(deps, 'second_factor', { userId: p.userId, sessionId: p.id });
    },
  );

  app.post(
    '/api/auth/second-factor/passkey',
    {
      config: { auth: 'none' },
      schema: { tags: ['auth'], body: AssertionBody, response: { 200: SignedIn } },
    },
    async (req, reply) => {
      const p = await pendingOf(req);
      const out = await finishWithPasskey(
        deps,
        whoFor(req, p.userId),
        p,
        req.body.response as unknown as AuthenticationResponseJSON,
        browserOf(req),
      );
      setSessionCookie(reply, config, out.session.token);
      return signedIn(out.session);
    },
  );

  app.post(
    '/api/auth/second-factor/enrol/totp',
    { config: { auth: 'none' }, schema: { tags: ['auth'], response: { 200: TotpStart } } },
    async (req) => {
      const p = await pendingOf(req);
      if (p.pending !== 'enrol') throw new ApiError('invalid_request', 'This sign-in is not an enrolment.');
      const t = await beginTotp(totpStore(deps), {
        userId: p.userId,
        email: p.email,
        issuer: issuerOf(config.publicUrl),
      });
      if (!t) throw new ApiError('conflict', 'Two-factor sign-in is already on.');
      return { secret: t.secret, otpauth_uri: t.uri, qr_svg: t.qrSvg };
    },
  );

  app.post(
    '/api/auth/second-factor/enrol/totp/confirm',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['auth'],
        body: Type.Object(
          { code: Type.String({ minLength: 1, maxLength: 64 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Intersect([SignedIn, RecoveryCodes]) },
      },
    },
    async (req, reply) => {
      const p = await pendingOf(req);
      const out = await finishWithEnrolment(deps, whoFor(req, p.userId), p, req.body.code, browserOf(req));
      setSessionCookie(reply, config, out.session.token);
      return { ...(await signedIn(out.session)), recovery_codes: out.recoveryCodes };
    },
  );

  // ---- passwordless sign-in with a passkey ----------------------------------------------------

  app.post(
    '/api/auth/passkey/options',
    { config: { auth: 'none' }, schema: { tags: ['auth'], response: { 200: Options } } },
    async () => passkeyAuthenticationOptions(deps, 'signin', { userId: null, sessionId: null }),
  );

  app.post(
    '/api/auth/passkey',
    {
      config: { auth: 'optional', credentials: ['session'] },
      schema: { tags: ['auth'], body: AssertionBody, response: { 200: SignedIn } },
    },
    async (req, reply) => {
      const ok = await verifyPasskeyAssertion(
        deps,
        'signin',
        { userId: null, sessionId: null },
        req.body.response as unknown as AuthenticationResponseJSON,
      );
      if (!ok) {
        await audit(db, clock, actorOf(req), {
          orgId: null,
          action: 'user.signin_failed',
          target: null,
          data: { method: 'passkey' },
        });
        throw new ApiError('invalid_credentials', 'The passkey was not accepted.');
      }
      const previous = req.principal?.kind === 'session' ? req.principal : null;
      const who = whoFor(req, ok.userId);
      const org = (await listUserOrgs(db, ok.userId))[0] ?? null;
      const device = deviceCookieValue(req.cookies[DEVICE_COOKIE]);
      const { session, ended, news } = await db.transaction().execute(async (trx) => {
        // A new session at every sign-in; the one the browser held before (if any) ends.
        const gone =
          previous?.sessionId && previous.user
            ? await endSession(trx, previous.sessionId, clock.now())
            : undefined;
        const s = await signIn(trx, clock, who, {
          userId: ok.userId,
          orgId: org?.id ?? null,
          method: 'passkey',
        });
        const news = await signedInFromDevice(trx, clock, who, {
          userId: ok.userId,
          method: 'passkey',
          device,
        });
        return { session: s, ended: gone?.token_hash ?? null, news };
      });
      if (ended) await deps.auth.changed({ token: ended });
      await notifyNewDevice(deps, news, req.log);
      setSessionCookie(reply, config, session.token);
      setHostCookie(reply, config, {
        name: DEVICE_COOKIE,
        value: device,
        maxAgeSeconds: DEVICE_TTL_MS / 1000,
      });
      return signedIn({ userId: ok.userId, orgId: org?.id ?? null, id: session.id });
    },
  );
}
