import { Type } from 'typebox';
import { audit } from '../../audit/log.js';
import type { Deps } from '../../deps.js';
import { ApiError } from '../../errors.js';
import { actorOf, principalOf, userOf } from '../../http/request.js';
import { Timestamp } from '../../http/shapes.js';
import type { App } from '../../http/types.js';
import { recordSecondFactor, sessionAuthInfo } from '../sessions.js';
import { requireStepUp, STEP_UP_WINDOW_MS } from '../step-up.js';
import { factorsOf, hasFactor, methodsOf } from './factors.js';
import { forgetMfaMemo, mfaRequiringOrgOf } from './org-policy.js';
import { listPasskeys } from './passkeys.js';
import { regenerateRecoveryCodes, remainingRecoveryCodes, removeRecoveryCodes } from './recovery.js';
import { beginTotp, confirmTotp, issuerOf, removeTotp } from './totp.js';
import { totpStore } from './totp-store.js';
import { Methods, PasskeyShape, RecoveryCodes, TotpStart, iso, sessionAccount } from './shapes.js';
import type { Executor } from '../../db/executor.js';

/** Removing a factor: refused when it is the last one and an org the person belongs to requires one. */
export async function keepRequiredFactor(db: Executor, userId: string, removing: 'totp' | 'passkey') {
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
}

/** The account's factors: what it has (`/api/v1/me/mfa`), its TOTP app and its recovery codes. */
export function factorRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;

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

  app.delete(
    '/api/v1/me/mfa/totp',
    { config: sessionAccount, schema: { tags: ['account'], response: { 204: Type.Null() } } },
    async (req, reply) => {
      const user = userOf(req);
      await requireStepUp(deps, principalOf(req));
      const last = await keepRequiredFactor(db, user.id, 'totp');
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
}
