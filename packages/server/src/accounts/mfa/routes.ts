import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { type Actor } from '../../auth/principal.js';
import { audit } from '../../audit/log.js';
import type { Deps } from '../../deps.js';
import { ApiError } from '../../errors.js';
import { actorOf, orgOf, principalOf, setHostCookie, setSessionCookie, userOf } from '../../http/request.js';
import { IdParams, OrgShape, Timestamp, UserShape } from '../../http/shapes.js';
import type { App } from '../../http/types.js';
import { listUserOrgs } from '../../orgs/queries.js';
import { findPendingSession, type PendingSession, recordSecondFactor, sessionAuthInfo } from '../sessions.js';
import { SESSION_COOKIE } from '../../auth/session-cookie.js';
import { DEVICE_COOKIE, DEVICE_TTL_MS, deviceCookieValue } from '../devices.js';
import { notifyNewDevice, signedInFromDevice } from '../new-device.js';
import { signIn } from '../signin.js';
import { requireStepUp, STEP_UP_WINDOW_MS } from '../step-up.js';
import { factorsOf, hasFactor, methodsOf } from './factors.js';
import {
  forgetMfaMemo,
  graceEndsAt,
  MFA_GRACE_DAYS_DEFAULT,
  MFA_GRACE_DAYS_MAX,
  mfaRequiringOrgOf,
  type OrgMfaPolicy,
  orgMfaPolicy,
  setOrgMfaPolicy,
} from './org-policy.js';
import { expired, finishWithCode, finishWithEnrolment, finishWithPasskey, proveCode } from './pending.js';
import {
  listPasskeys,
  PASSKEY_NAME_MAX,
  passkeyAuthenticationOptions,
  passkeyRegistrationOptions,
  registerPasskey,
  verifyPasskeyAssertion,
} from './passkeys.js';
import { regenerateRecoveryCodes, remainingRecoveryCodes, removeRecoveryCodes } from './recovery.js';
import { beginTotp, confirmTotp, removeTotp } from './totp.js';
import { totpStore } from './totp-store.js';

const Method = Type.Union([Type.Literal('totp'), Type.Literal('recovery_code')]);
const CodeBody = Type.Object(
  { method: Method, code: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
/** A WebAuthn response as the browser's `PublicKeyCredential.toJSON()` gives it; the library checks its shape. */
const WebAuthnJson = Type.Object({}, { additionalProperties: true });
const AssertionBody = Type.Object({ response: WebAuthnJson }, { additionalProperties: false });
const Options = Type.Object({}, { additionalProperties: true });
const Methods = Type.Array(
  Type.Union([Type.Literal('totp'), Type.Literal('recovery_code'), Type.Literal('passkey')]),
);
const Amr = Type.Array(Type.String());
const SignedIn = Type.Object({
  user: UserShape,
  org: Type.Union([OrgShape, Type.Null()]),
  amr: Amr,
  recovery_codes_left: Type.Optional(Type.Integer()),
});
const TotpStart = Type.Object({ secret: Type.String(), otpauth_uri: Type.String(), qr_svg: Type.String() });
const RecoveryCodes = Type.Object({ recovery_codes: Type.Array(Type.String()) });
const PasskeyShape = Type.Object({
  id: Type.String(),
  name: Type.String(),
  created_at: Timestamp,
  last_used_at: Type.Union([Timestamp, Type.Null()]),
  backed_up: Type.Boolean(),
});
const OrgMfaShape = Type.Object({
  mfa_required: Type.Boolean(),
  grace_days: Type.Integer(),
  required_at: Type.Union([Timestamp, Type.Null()]),
  grace_ends_at: Type.Union([Timestamp, Type.Null()]),
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const orgMfaOut = (p: OrgMfaPolicy) => {
  const ends = graceEndsAt(p);
  return {
    mfa_required: p.required,
    grace_days: p.graceDays,
    required_at: iso(p.requiredAt),
    grace_ends_at: ends === null ? null : new Date(ends).toISOString(),
  };
};

/**
 * Second factors: finishing a pending sign-in (`/api/auth/second-factor*`), passwordless passkey
 * sign-in (`/api/auth/passkey*`), the account's factors (`/api/v1/me/mfa*`, `/api/v1/me/passkeys*`),
 * step-up (`/api/v1/me/step-up*`) and an org's requirement (`/api/v1/org/mfa`).
 */
export function mfaRoutes(app: App, deps: Deps): void {
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
    const user = await db
      .selectFrom('users')
      .select(['id', 'email', 'name'])
      .where('id', '=', s.userId)
      .executeTakeFirstOrThrow();
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
            ? await trx
                .updateTable('sessions')
                .set({ revoked_at: clock.now() })
                .where('id', '=', previous.sessionId)
                .where('revoked_at', 'is', null)
                .returning('token_hash')
                .executeTakeFirst()
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

  // ---- the account's factors -----------------------------------------------------------------

  app.get(
    '/api/v1/me/mfa',
    {
      config: { auth: 'user', scope: 'account:read' },
      schema: {
        tags: ['account'],
        response: {
          200: Type.Object({
            totp: Type.Object({ enabled: Type.Boolean() }),
            recovery_codes: Type.Object({ remaining: Type.Integer() }),
            passkeys: Type.Array(PasskeyShape),
            methods: Methods,
            required_by: Type.Union([Type.Object({ slug: Type.String(), name: Type.String() }), Type.Null()]),
            step_up_until: Type.Union([Timestamp, Type.Null()]),
          }),
        },
      },
    },
    async (req) => {
      const user = userOf(req);
      const p = principalOf(req);
      const f = await factorsOf(db, user.id);
      const keys = await listPasskeys(deps, user.id);
      const info = p.kind === 'session' && p.sessionId ? await sessionAuthInfo(db, clock, p.sessionId) : null;
      const until = info?.mfaAt ? new Date(info.mfaAt.getTime() + STEP_UP_WINDOW_MS) : null;
      const org = await mfaRequiringOrgOf(db, user.id);
      return {
        totp: { enabled: f.totp },
        recovery_codes: { remaining: f.recoveryCodes },
        passkeys: keys.map((k) => ({
          id: k.id,
          name: k.name,
          created_at: k.created_at.toISOString(),
          last_used_at: iso(k.last_used_at),
          backed_up: k.backed_up,
        })),
        methods: methodsOf(f),
        required_by: org ? { slug: org.slug, name: org.name } : null,
        step_up_until: until && until.getTime() > clock.now().getTime() ? until.toISOString() : null,
      };
    },
  );

  const sessionAccount = { auth: 'user', scope: 'account:write', credentials: ['session'] } as const;

  app.post(
    '/api/v1/me/mfa/totp',
    { config: sessionAccount, schema: { tags: ['account'], response: { 200: TotpStart } } },
    async (req) => {
      const user = userOf(req);
      await requireStepUp(deps, principalOf(req));
      const t = await beginTotp(totpStore(deps), {
        userId: user.id,
        email: user.email,
        issuer: issuerOf(config.publicUrl),
      });
      if (!t) throw new ApiError('conflict', 'Two-factor sign-in with an authenticator app is already on.');
      return { secret: t.secret, otpauth_uri: t.uri, qr_svg: t.qrSvg };
    },
  );

  app.post(
    '/api/v1/me/mfa/totp/confirm',
    {
      config: sessionAccount,
      schema: {
        tags: ['account'],
        body: Type.Object(
          { code: Type.String({ minLength: 1, maxLength: 64 }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ recovery_codes: Type.Union([Type.Array(Type.String()), Type.Null()]) }),
        },
      },
    },
    async (req) => {
      const user = userOf(req);
      const p = principalOf(req);
      if (!(await confirmTotp(totpStore(deps), user.id, req.body.code)))
        throw new ApiError(
          'invalid_code',
          'The code does not match. Enter the current code from your authenticator app.',
        );
      forgetMfaMemo(deps, { userId: user.id });
      const codes = await db.transaction().execute(async (trx) => {
        // The first factor comes with recovery codes; a later one keeps the set the person has.
        const fresh =
          (await remainingRecoveryCodes(trx, user.id)) === 0
            ? await regenerateRecoveryCodes(trx, clock, user.id)
            : null;
        await audit(trx, clock, actorOf(req), {
          orgId: null,
          action: 'user.totp_enabled',
          target: `user:${user.id}`,
        });
        return fresh;
      });
      // Entering a code proved the factor in this session.
      if (p.sessionId) await recordSecondFactor(db, clock, p.sessionId, 'otp');
      return { recovery_codes: codes };
    },
  );

  /** Removing a factor: refused when it is the last one and an org the person belongs to requires one. */
  const keepRequiredFactor = async (userId: string, removing: 'totp' | 'passkey') => {
    const f = await factorsOf(db, userId);
    const left = removing === 'totp' ? f.passkeys : (f.totp ? 1 : 0) + f.passkeys - 1;
    if (left > 0) return false;
    const org = await mfaRequiringOrgOf(db, userId);
    if (org)
      throw new ApiError(
        'mfa_required_by_org',
        `${org.name} requires a second factor: add another before removing this one.`,
        {
          extra: { org: org.slug },
        },
      );
    return true;
  };

  app.delete(
    '/api/v1/me/mfa/totp',
    { config: sessionAccount, schema: { tags: ['account'], response: { 204: Type.Null() } } },
    async (req, reply) => {
      const user = userOf(req);
      await requireStepUp(deps, principalOf(req));
      const last = await keepRequiredFactor(user.id, 'totp');
      const had = await db.transaction().execute(async (trx) => {
        const was = await removeTotp(trx, user.id);
        if (last) await removeRecoveryCodes(trx, user.id);
        if (was)
          await audit(trx, clock, actorOf(req), {
            orgId: null,
            action: 'user.totp_disabled',
            target: `user:${user.id}`,
          });
        return was;
      });
      forgetMfaMemo(deps, { userId: user.id });
      if (!had) throw new ApiError('not_found', 'Two-factor sign-in with an authenticator app is not on.');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/me/mfa/recovery-codes',
    { config: sessionAccount, schema: { tags: ['account'], response: { 200: RecoveryCodes } } },
    async (req) => {
      const user = userOf(req);
      await requireStepUp(deps, principalOf(req));
      if (!hasFactor(await factorsOf(db, user.id)))
        throw new ApiError('conflict', 'Recovery codes back up a second factor: add one first.');
      const codes = await db.transaction().execute(async (trx) => {
        const fresh = await regenerateRecoveryCodes(trx, clock, user.id);
        await audit(trx, clock, actorOf(req), {
          orgId: null,
          action: 'user.recovery_codes_regenerated',
          target: `user:${user.id}`,
        });
        return fresh;
      });
      return { recovery_codes: codes };
    },
  );

  // ---- passkeys ------------------------------------------------------------------------------

  app.post(
    '/api/v1/me/passkeys/options',
    { config: sessionAccount, schema: { tags: ['account'], response: { 200: Options } } },
    async (req) => {
      const user = userOf(req);
      const p = principalOf(req);
      await requireStepUp(deps, p);
      const options = await passkeyRegistrationOptions(deps, { ...user, sessionId: p.sessionId! });
      if (!options) throw new ApiError('conflict', 'This account has as many passkeys as it may have.');
      return options;
    },
  );

  app.post(
    '/api/v1/me/passkeys',
    {
      config: sessionAccount,
      schema: {
        tags: ['account'],
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: PASSKEY_NAME_MAX }), response: WebAuthnJson },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            passkey: PasskeyShape,
            recovery_codes: Type.Union([Type.Array(Type.String()), Type.Null()]),
          }),
        },
      },
    },
    async (req, reply) => {
      const user = userOf(req);
      const p = principalOf(req);
      // Checked again: the options were issued under a step-up that may have lapsed since.
      await requireStepUp(deps, p);
      const name = req.body.name.trim().replace(/[\u0000-\u001f\u007f]/g, '');
      if (!name) throw new ApiError('invalid_request', 'Name the passkey.');
      const key = await registerPasskey(
        deps,
        { id: user.id, sessionId: p.sessionId! },
        { name, response: req.body.response as unknown as RegistrationResponseJSON },
      );
      if (!key) throw new ApiError('invalid_request', 'The passkey could not be verified. Start again.');
      forgetMfaMemo(deps, { userId: user.id });
      const codes = await db.transaction().execute(async (trx) => {
        const fresh =
          (await remainingRecoveryCodes(trx, user.id)) === 0
            ? await regenerateRecoveryCodes(trx, clock, user.id)
            : null;
        await audit(trx, clock, actorOf(req), {
          orgId: null,
          action: 'user.passkey_added',
          target: `user:${user.id}`,
          data: { passkey_id: key.id, name: key.name },
        });
        return fresh;
      });
      // Creating it needed user verification on the authenticator: a proof of it in this session.
      if (p.sessionId) await recordSecondFactor(db, clock, p.sessionId, 'hwk');
      return reply.code(201).send({
        passkey: {
          id: key.id,
          name: key.name,
          created_at: key.created_at.toISOString(),
          last_used_at: null,
          backed_up: key.backed_up,
        },
        recovery_codes: codes,
      });
    },
  );

  app.delete(
    '/api/v1/me/passkeys/:id',
    {
      config: sessionAccount,
      schema: { tags: ['account'], params: IdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const user = userOf(req);
      await requireStepUp(deps, principalOf(req));
      const mine = await db
        .selectFrom('passkeys')
        .select('id')
        .where('id', '=', req.params.id)
        .where('user_id', '=', user.id)
        .executeTakeFirst();
      if (!mine) throw new ApiError('not_found', 'No such passkey.');
      const last = await keepRequiredFactor(user.id, 'passkey');
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('passkeys').where('id', '=', mine.id).where('user_id', '=', user.id).execute();
        if (last) await removeRecoveryCodes(trx, user.id);
        await audit(trx, clock, actorOf(req), {
          orgId: null,
          action: 'user.passkey_removed',
          target: `user:${user.id}`,
          data: { passkey_id: mine.id },
        });
      });
      forgetMfaMemo(deps, { userId: user.id });
      return reply.code(204).send(null);
    },
  );

  // ---- step-up -------------------------------------------------------------------------------

  const StepUpOut = Type.Object({ step_up_until: Timestamp, amr: Amr });
  const stepUpDone = async (sessionId: string, proof: 'otp' | 'hwk') => {
    const at = await recordSecondFactor(db, clock, sessionId, proof);
    if (!at) throw new ApiError('unauthorized');
    const info = await sessionAuthInfo(db, clock, sessionId);
    return { step_up_until: new Date(at.getTime() + STEP_UP_WINDOW_MS).toISOString(), amr: info?.amr ?? [] };
  };
  const stepUpSession = { auth: 'user', credentials: ['session'] } as const;

  app.post(
    '/api/v1/me/step-up',
    { config: stepUpSession, schema: { tags: ['account'], body: CodeBody, response: { 200: StepUpOut } } },
    async (req) => {
      const user = userOf(req);
      const p = principalOf(req);
      await proveCode(deps, actorOf(req), { userId: user.id, ...req.body, purpose: 'step_up' });
      return stepUpDone(p.sessionId!, 'otp');
    },
  );

  app.post(
    '/api/v1/me/step-up/passkey-options',
    { config: stepUpSession, schema: { tags: ['account'], response: { 200: Options } } },
    async (req) => {
      const user = userOf(req);
      return passkeyAuthenticationOptions(deps, 'step_up', {
        userId: user.id,
        sessionId: principalOf(req).sessionId,
      });
    },
  );

  app.post(
    '/api/v1/me/step-up/passkey',
    {
      config: stepUpSession,
      schema: { tags: ['account'], body: AssertionBody, response: { 200: StepUpOut } },
    },
    async (req) => {
      const user = userOf(req);
      const p = principalOf(req);
      const ok = await verifyPasskeyAssertion(
        deps,
        'step_up',
        { userId: user.id, sessionId: p.sessionId },
        req.body.response as unknown as AuthenticationResponseJSON,
      );
      if (!ok) throw new ApiError('invalid_credentials', 'The passkey was not accepted.');
      return stepUpDone(p.sessionId!, 'hwk');
    },
  );

  // ---- an org's requirement ------------------------------------------------------------------

  app.get(
    '/api/v1/org/mfa',
    {
      config: { auth: 'org', permission: 'org:read' },
      schema: { tags: ['orgs'], response: { 200: OrgMfaShape } },
    },
    async (req) => orgMfaOut(await orgMfaPolicy(db, orgOf(req).id)),
  );

  app.put(
    '/api/v1/org/mfa',
    {
      config: { auth: 'org', permission: 'org:update' },
      schema: {
        tags: ['orgs'],
        body: Type.Object(
          {
            mfa_required: Type.Boolean(),
            grace_days: Type.Optional(Type.Integer({ minimum: 0, maximum: MFA_GRACE_DAYS_MAX })),
          },
          { additionalProperties: false },
        ),
        response: { 200: OrgMfaShape },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const p = principalOf(req);
      // Whoever turns it on shows it can be met: their own account has a factor.
      if (req.body.mfa_required && p.user && !hasFactor(await factorsOf(db, p.user.id)))
        throw new ApiError(
          'mfa_enrolment_required',
          'Add a second factor to your own account before requiring one.',
          {
            extra: { org: org.slug, enrol_url: '/app/account/security' },
          },
        );
      const current = await orgMfaPolicy(db, org.id);
      const policy = await db.transaction().execute((trx) =>
        setOrgMfaPolicy(trx, clock, actorOf(req), org.id, {
          required: req.body.mfa_required,
          graceDays: req.body.grace_days ?? (current.required ? current.graceDays : MFA_GRACE_DAYS_DEFAULT),
        }),
      );
      forgetMfaMemo(deps, { orgId: org.id });
      return orgMfaOut(policy);
    },
  );
}

/** The issuer an authenticator app shows next to the account: the instance's host. */
export function issuerOf(publicUrl: string): string {
  return `Latchkey (${new URL(publicUrl).host})`;
}
