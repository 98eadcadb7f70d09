import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { deleteAccount } from '../accounts/deletion.js';
import { disableUser, enableUser } from '../accounts/disable.js';
import {
  endPasswordCredentials,
  issuePasswordReset,
  passwordChangedEmail,
  passwordResetEmail,
  resetLink,
} from '../accounts/password-reset.js';
import { audit } from '../audit/log.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../http/pagination.js';
import { actorOf, principalOf } from '../http/request.js';
import { IdParams, RoleShape, Timestamp, Uuid } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { requireInstanceAdmin } from '../auth/instance-admin.js';
import { clearPassword } from './queries.js';
import { forgetMfaMemo } from '../accounts/mfa/org-policy.js';
import {
  type AdminFactor,
  factorRemovedEmail,
  removeFactor,
  USER_SEARCH_MAX,
  searchUsers,
  type UserSummaryRow,
  userDetail,
} from './users.js';

const OrNull = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const Summary = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  created_at: Timestamp,
  email_verified: Type.Boolean(),
  disabled_at: OrNull(Timestamp),
  instance_admin: Type.Boolean(),
  has_password: Type.Boolean(),
  last_sign_in_at: OrNull(Timestamp),
});

const Detail = Type.Object({
  ...Summary.properties,
  orgs: Type.Array(
    Type.Object({
      id: Type.String(),
      slug: Type.String(),
      name: Type.String(),
      role: RoleShape,
      joined_at: Timestamp,
    }),
  ),
  sessions: Type.Array(
    Type.Object({
      id: Type.String(),
      ip: OrNull(Type.String()),
      user_agent: OrNull(Type.String()),
      created_at: Timestamp,
      last_seen_at: Timestamp,
      expires_at: Timestamp,
    }),
  ),
  identities: Type.Array(Type.Object({ provider: Type.String(), created_at: Timestamp })),
  factors: Type.Object({ totp: Type.Boolean(), passkeys: Type.Integer(), recovery_codes: Type.Integer() }),
  passkeys: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      created_at: Timestamp,
      last_used_at: OrNull(Timestamp),
    }),
  ),
});

function summary(r: UserSummaryRow) {
  return {
    id: r.id,
    email: r.email,
    name: r.name,
    created_at: r.created_at.toISOString(),
    email_verified: r.email_verified_at !== null,
    disabled_at: r.disabled_at?.toISOString() ?? null,
    instance_admin: r.instance_admin,
    has_password: r.has_password,
    last_sign_in_at: r.last_sign_in_at?.toISOString() ?? null,
  };
}

const NO_SUCH_USER = 'No such account.';

/**
 * `/api/v1/admin/users`: the instance's accounts, for instance admins. Search by email or name;
 * one account's orgs, sessions, factors and last sign-in; disable (signs out everywhere, every
 * credential refused) and re-enable; delete; force a password reset; remove a second factor. Every action is audited on
 * the instance log (no org) with the account as its subject, so it shows on the person's own
 * activity log too. An admin acts on other accounts only: their own go through `/api/v1/me`.
 */
export function adminUserRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;
  const admin = (req: FastifyRequest) => requireInstanceAdmin(db, principalOf(req));
  const notSelf = (req: FastifyRequest, id: string, what: string) => {
    if (principalOf(req).user?.id === id)
      throw new ApiError('conflict', `An instance admin cannot ${what} their own account here.`);
  };
  const detail = async (id: string) => {
    const d = await userDetail(db, clock, id);
    if (!d) throw new ApiError('not_found', NO_SUCH_USER);
    return {
      ...summary(d.row),
      orgs: d.orgs.map((o) => ({
        id: o.id,
        slug: o.slug,
        name: o.name,
        role: o.role,
        joined_at: o.created_at.toISOString(),
      })),
      sessions: d.sessions.map((s) => ({
        id: s.id,
        ip: s.ip,
        user_agent: s.user_agent,
        created_at: s.created_at.toISOString(),
        last_seen_at: s.last_seen_at.toISOString(),
        expires_at: s.expires_at.toISOString(),
      })),
      identities: d.identities.map((i) => ({ provider: i.provider, created_at: i.created_at.toISOString() })),
      factors: {
        totp: d.factors.totp,
        passkeys: d.factors.passkeys,
        recovery_codes: d.factors.recoveryCodes,
      },
      passkeys: d.passkeys.map((k) => ({
        id: k.id,
        name: k.name,
        created_at: k.created_at.toISOString(),
        last_used_at: k.last_used_at?.toISOString() ?? null,
      })),
    };
  };
  const declared = { auth: 'user', credentials: ['session', 'admin-token'] } as const;

  app.get(
    '/api/v1/admin/users',
    {
      config: declared,
      schema: {
        tags: ['admin'],
        summary: 'Search the accounts by email or name (newest first)',
        querystring: Type.Object(
          { ...PageQuery, q: Type.Optional(Type.String({ maxLength: USER_SEARCH_MAX })) },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(Summary) },
      },
    },
    async (req) => {
      await admin(req);
      const limit = req.query.limit ?? 50;
      const q = req.query.q?.trim() || null;
      const rows = await searchUsers(db, { q, limit, after: decodeCursor(req.query.cursor) });
      const p = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return { data: p.data.map(summary), next_cursor: p.next_cursor };
    },
  );

  app.get(
    '/api/v1/admin/users/:id',
    {
      config: declared,
      schema: {
        tags: ['admin'],
        summary: 'One account: orgs, live sessions, second factors, last sign-in',
        params: IdParams,
        response: { 200: Detail },
      },
    },
    async (req) => {
      await admin(req);
      return detail(req.params.id);
    },
  );

  app.post(
    '/api/v1/admin/users/:id/disable',
    {
      config: declared,
      schema: {
        tags: ['admin'],
        summary: 'Disable an account: every session ends, and every credential of it is refused',
        params: IdParams,
        response: { 200: Detail },
      },
    },
    async (req) => {
      await admin(req);
      notSelf(req, req.params.id, 'disable');
      const ended = await db
        .transaction()
        .execute((trx) => disableUser(trx, clock, actorOf(req), req.params.id));
      const out = await detail(req.params.id);
      if (ended) {
        await deps.auth.changed({ user: req.params.id });
        for (const h of ended) await deps.auth.changed({ token: h });
      }
      return out;
    },
  );

  app.post(
    '/api/v1/admin/users/:id/enable',
    {
      config: declared,
      schema: {
        tags: ['admin'],
        summary: 'Re-enable a disabled account (its tokens work again; its sessions stay ended)',
        params: IdParams,
        response: { 200: Detail },
      },
    },
    async (req) => {
      await admin(req);
      const changed = await db
        .transaction()
        .execute((trx) => enableUser(trx, clock, actorOf(req), req.params.id));
      const out = await detail(req.params.id);
      if (changed) {
        await deps.auth.changed({ user: req.params.id });
        for (const h of changed) await deps.auth.changed({ token: h });
      }
      return out;
    },
  );

  app.post(
    '/api/v1/admin/users/:id/password-reset',
    {
      config: declared,
      schema: {
        tags: ['admin'],
        summary:
          'Force a password reset: the password stops working, every session and personal token ends, and a reset link is mailed',
        params: IdParams,
        response: { 200: Type.Object({ email_sent: Type.Boolean() }) },
      },
    },
    async (req) => {
      await admin(req);
      notSelf(req, req.params.id, 'force a password reset of');
      const who = actorOf(req);
      const out = await db.transaction().execute(async (trx) => {
        const user = await clearPassword(trx, req.params.id, clock.now());
        if (!user) return null;
        const ended = await endPasswordCredentials(trx, clock, user.id, 'password_reset_forced');
        await audit(trx, clock, who, {
          orgId: null,
          action: 'user.password_reset_forced',
          target: `user:${user.id}`,
          data: {
            revoked_sessions: ended.sessions,
            revoked_tokens: ended.prefixes,
            revoked_refresh_tokens: ended.refreshTokens,
          },
        });
        const token = await issuePasswordReset(trx, clock, user);
        return { user, ended, token };
      });
      if (!out) throw new ApiError('not_found', NO_SUCH_USER);
      await deps.auth.changed({ user: out.user.id });
      for (const h of out.ended.hashes) await deps.auth.changed({ token: h });
      let sent = true;
      try {
        await deps.mailer.send(passwordChangedEmail(out.user.email, 'admin'));
        await deps.mailer.send(passwordResetEmail(out.user.email, resetLink(config.publicUrl, out.token)));
      } catch (err) {
        sent = false;
        req.log.error({ err: (err as Error).message }, 'sending a forced password reset failed');
      }
      return { email_sent: sent };
    },
  );

  app.delete(
    '/api/v1/admin/users/:id',
    {
      config: declared,
      schema: {
        tags: ['admin'],
        summary:
          'Delete an account (refused while it is the last owner of an org with other members); ends every credential',
        params: IdParams,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await admin(req);
      notSelf(req, req.params.id, 'delete');
      const done = await db
        .transaction()
        .execute((trx) => deleteAccount(trx, clock, actorOf(req), req.params.id));
      if (!done) throw new ApiError('not_found', NO_SUCH_USER);
      await deps.auth.changed({ user: done.userId });
      for (const h of done.hashes) await deps.auth.changed({ token: h });
      for (const org of done.orgs) await deps.auth.changed({ org });
      return reply.code(204).send(null);
    },
  );

  /**
   * Removes a second factor for a locked-out person (even the last one while an org requires one:
   * they enrol again at their next sign-in). Their sessions keep working; step-up then asks for
   * whatever factor is left. The person is mailed a notice.
   */
  const removeAndNotify = async (req: FastifyRequest, id: string, factor: AdminFactor) => {
    await admin(req);
    notSelf(req, id, 'remove a second factor of');
    const { email } = await db
      .transaction()
      .execute((trx) => removeFactor(trx, clock, actorOf(req), id, factor));
    forgetMfaMemo(deps, { userId: id });
    await deps.auth.changed({ user: id });
    try {
      await deps.mailer.send(factorRemovedEmail(email, factor.kind));
    } catch (err) {
      req.log.error({ err: (err as Error).message }, 'mailing a removed-factor notice failed');
    }
    return detail(id);
  };

  app.delete(
    '/api/v1/admin/users/:id/factors/totp',
    {
      config: declared,
      schema: {
        tags: ['admin'],
        summary: 'Remove the account’s authenticator app (and its recovery codes when no factor is left)',
        params: IdParams,
        response: { 200: Detail },
      },
    },
    (req) => removeAndNotify(req, req.params.id, { kind: 'totp' }),
  );

  app.delete(
    '/api/v1/admin/users/:id/factors/recovery-codes',
    {
      config: declared,
      schema: {
        tags: ['admin'],
        summary: 'Remove the account’s recovery codes',
        params: IdParams,
        response: { 200: Detail },
      },
    },
    (req) => removeAndNotify(req, req.params.id, { kind: 'recovery_codes' }),
  );

  app.delete(
    '/api/v1/admin/users/:id/factors/passkeys/:passkeyId',
    {
      config: declared,
      schema: {
        tags: ['admin'],
        summary: 'Remove one passkey of the account (and its recovery codes when no factor is left)',
        params: Type.Object({ id: Uuid, passkeyId: Uuid }, { additionalProperties: false }),
        response: { 200: Detail },
      },
    },
    (req) => removeAndNotify(req, req.params.id, { kind: 'passkey', id: req.params.passkeyId }),
  );
}
