import { Type } from 'typebox';
import { audit } from '../audit/log.js';
import type { Deps } from '../deps.js';
import { membershipsOf } from '../orgs/context.js';
import { ApiError, rateLimited } from '../errors.js';
import {
  actorOf,
  clearSessionCookie,
  principalOf,
  setHostCookie,
  setSessionCookie,
  userOf,
} from '../http/request.js';
import { Email, IdParams, Name, OrgShape, Timestamp, UserShape } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { listUserOrgs } from '../orgs/queries.js';
import { revokeOAuthTokens, revokeUserPats } from '../tokens/queries.js';
import { DEVICE_COOKIE, DEVICE_TTL_MS } from './devices.js';
import { activityRoutes } from './activity-routes.js';
import { identityRoutes } from './identity-routes.js';
import { WAITLISTED } from './input.js';
import { accountLimiters } from './limits.js';
import { magicLinkRoutes } from './magic-link-routes.js';
import {
  checkPassword,
  hashPassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_PROBLEM_TEXT,
  verifyPassword,
} from './passwords.js';
import { listSessions, revokeAllSessions, revokeSession } from './sessions.js';
import { signIn } from './signin.js';
import { passwordSignIn } from './password-signin.js';
import { passwordSignup } from './password-signup.js';
import { passwordResetRoutes } from './password-reset-routes.js';
import { setPasswordHash } from './queries.js';
import { emailChangeRoutes } from './email-change-routes.js';
import { lifecycleRoutes } from './lifecycle-routes.js';
import { seedSignupPolicy } from './signup-policy.js';
import { socialRoutes } from './social/routes.js';
import { findUserByEmail } from './users.js';
import { verifyEmailRoutes } from './verify-email-routes.js';

/** A first password may be set only this soon after signing in. */
export const FIRST_PASSWORD_SIGN_IN_WINDOW_MS = 10 * 60 * 1000;

const Password = Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH });
const SignedIn = Type.Object({
  user: UserShape,
  org: Type.Union([OrgShape, Type.Null()]),
  /** Set when the sign-in waits for a second factor (or an enrolment): finish it at /api/auth/second-factor. */
  second_factor: Type.Optional(Type.Union([Type.Literal('second_factor'), Type.Literal('enrol')])),
});
const Waitlisted = Type.Object({ status: Type.Literal('waitlisted'), detail: Type.String() });

function passwordOrThrow(pw: string): void {
  const problem = checkPassword(pw);
  if (problem)
    throw new ApiError('weak_password', PASSWORD_PROBLEM_TEXT[problem], { extra: { reason: problem } });
}

/** Sign-up, sign-in, magic links, sign-out, sessions and password change: `/api/auth/*`. */
export function accountRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;
  const limits = accountLimiters(deps.cache);

  /** The org a new session starts in: the user's oldest membership. */
  const firstOrg = async (userId: string) => (await listUserOrgs(db, userId))[0] ?? null;

  // SIGNUP_POLICY is the policy a new instance starts with; one an instance admin set wins.
  app.addHook('onReady', async () => {
    const policy = await seedSignupPolicy(db, clock, config.signupPolicy);
    if (policy !== config.signupPolicy)
      app.log.info({ policy }, 'sign-up policy: the stored one, set by an instance admin, is in force');
  });
  socialRoutes(app, deps);
  identityRoutes(app, deps);
  activityRoutes(app, deps);
  passwordResetRoutes(app, deps);
  emailChangeRoutes(app, deps);
  lifecycleRoutes(app, deps);

  app.post(
    '/api/auth/signup',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['auth'],
        body: Type.Object({ email: Email, password: Password, name: Name }, { additionalProperties: false }),
        response: { 201: SignedIn, 202: Waitlisted },
      },
    },
    async (req, reply) => {
      const out = await passwordSignup(
        deps,
        limits,
        { ...actorOf(req), ip: req.ip },
        { email: req.body.email, name: req.body.name, password: req.body.password },
        req.log,
      );
      if (out.kind === 'waitlisted')
        return reply.code(202).send({ status: 'waitlisted', detail: WAITLISTED });
      setSessionCookie(reply, config, out.token);
      return reply.code(201).send({
        user: out.user,
        org: { id: out.org.id, slug: out.org.slug, name: out.org.name, role: 'owner' as const },
      });
    },
  );

  app.post(
    '/api/auth/signin',
    {
      config: { auth: 'optional', credentials: ['session'] },
      schema: {
        tags: ['auth'],
        body: Type.Object({ email: Email, password: Password }, { additionalProperties: false }),
        response: { 200: SignedIn },
      },
    },
    async (req, reply) => {
      const previous = req.principal?.kind === 'session' ? req.principal : null;
      const out = await passwordSignIn(
        deps,
        { ...actorOf(req), ip: req.ip },
        {
          email: req.body.email,
          password: req.body.password,
          previous:
            previous?.user && previous.sessionId
              ? { userId: previous.user.id, sessionId: previous.sessionId }
              : null,
          device: req.cookies[DEVICE_COOKIE],
          log: req.log,
        },
      );
      setSessionCookie(reply, config, out.token);
      setHostCookie(reply, config, {
        name: DEVICE_COOKIE,
        value: out.device,
        maxAgeSeconds: DEVICE_TTL_MS / 1000,
      });
      return { user: out.user, org: out.org, ...(out.pending ? { second_factor: out.pending } : {}) };
    },
  );

  magicLinkRoutes(app, deps);
  verifyEmailRoutes(app, deps);

  app.post(
    '/api/auth/signout',
    {
      config: { auth: 'optional', credentials: ['session'] },
      schema: { tags: ['auth'], response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const p = req.principal;
      if (p?.kind === 'session' && p.user && p.sessionId) {
        const ended = await db.transaction().execute(async (trx) => {
          const hash = await revokeSession(trx, clock, p.user!.id, p.sessionId!);
          await audit(trx, clock, actorOf(req), {
            orgId: null,
            action: 'user.signout',
            target: `session:${p.sessionId}`,
          });
          return hash;
        });
        if (ended) await deps.auth.changed({ token: ended });
      }
      clearSessionCookie(reply, config);
      return reply.code(204).send(null);
    },
  );

  const SessionShape = Type.Object({
    id: Type.String(),
    ip: Type.Union([Type.String(), Type.Null()]),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    created_at: Timestamp,
    last_seen_at: Timestamp,
    expires_at: Timestamp,
    current: Type.Boolean(),
  });

  app.get(
    '/api/auth/session',
    {
      config: { auth: 'user', credentials: ['session'] },
      schema: {
        tags: ['auth'],
        response: { 200: Type.Object({ user: UserShape, session: Type.Object({ id: Type.String() }) }) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      if (p.kind !== 'session' || !p.sessionId) throw new ApiError('unauthorized', 'No browser session.');
      return { user: userOf(req), session: { id: p.sessionId } };
    },
  );

  /**
   * For apps that share the sign-in cookie on a parent domain: is the browser behind this cookie
   * a member of the org `slug`, and with which role. An unknown org answers like a non-member.
   */
  app.get(
    '/api/v1/session/tenant-member',
    {
      config: { auth: 'user', credentials: ['session'] },
      schema: {
        tags: ['auth'],
        querystring: Type.Object(
          { slug: Type.String({ minLength: 1, maxLength: 100 }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            member: Type.Boolean(),
            role: Type.Union([Type.String(), Type.Null()]),
            user_id: Type.String(),
          }),
        },
      },
    },
    async (req) => {
      const p = principalOf(req);
      if (p.kind !== 'session' || !p.user) throw new ApiError('unauthorized', 'No browser session.');
      const org = (await membershipsOf(deps, p.user.id)).find((o) => o.slug === req.query.slug);
      return { member: org !== undefined, role: org?.role ?? null, user_id: p.user.id };
    },
  );

  app.get(
    '/api/auth/sessions',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: {
        tags: ['auth'],
        response: { 200: Type.Object({ data: Type.Array(SessionShape), next_cursor: Type.Null() }) },
      },
    },
    async (req) => {
      const user = userOf(req);
      const rows = await listSessions(db, clock, user.id);
      return {
        data: rows.map((r) => ({
          id: r.id,
          ip: r.ip,
          user_agent: r.user_agent,
          created_at: r.created_at.toISOString(),
          last_seen_at: r.last_seen_at.toISOString(),
          expires_at: r.expires_at.toISOString(),
          current: r.id === req.principal?.sessionId,
        })),
        next_cursor: null,
      };
    },
  );

  app.delete(
    '/api/auth/sessions/:id',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: { tags: ['auth'], params: IdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const user = userOf(req);
      const revoked = await db.transaction().execute(async (trx) => {
        const hash = await revokeSession(trx, clock, user.id, req.params.id);
        if (hash)
          await audit(trx, clock, actorOf(req), {
            orgId: null,
            action: 'session.revoked',
            target: `session:${req.params.id}`,
          });
        return hash;
      });
      if (!revoked) throw new ApiError('not_found', 'No such session.');
      await deps.auth.changed({ token: revoked });
      if (req.params.id === req.principal?.sessionId) clearSessionCookie(reply, config);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/auth/password',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: {
        tags: ['auth'],
        body: Type.Object(
          { current_password: Type.Optional(Password), new_password: Password },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ revoked_sessions: Type.Integer() }) },
      },
    },
    async (req, reply) => {
      const user = userOf(req);
      passwordOrThrow(req.body.new_password);
      const row = await findUserByEmail(db, user.email);
      if (!row) throw new ApiError('unauthorized');
      if (row.password_hash === null) {
        // A first password is a new way in: only from a browser that signed in moments ago.
        const p = principalOf(req);
        if (
          p.kind !== 'session' ||
          p.signedInAt === null ||
          clock.now().getTime() - p.signedInAt > FIRST_PASSWORD_SIGN_IN_WINDOW_MS
        )
          throw new ApiError(
            'reauthentication_required',
            'Sign in again (within the last 10 minutes) to set a first password.',
          );
      } else {
        const r = await limits.passwordChangeFailuresPerUser.check(user.id);
        if (!r.allowed) throw rateLimited(r.retryAfterSeconds);
        if (
          !req.body.current_password ||
          !(await verifyPassword(row.password_hash, req.body.current_password))
        ) {
          await limits.passwordChangeFailuresPerUser.consume(user.id);
          throw new ApiError('invalid_credentials', 'The current password is wrong.');
        }
      }
      const hash = await hashPassword(req.body.new_password);
      const who = actorOf(req);
      const out = await db.transaction().execute(async (trx) => {
        await setPasswordHash(trx, user.id, hash, clock.now());
        // Every session ends, this one included; the caller gets a fresh one.
        const revoked = await revokeAllSessions(trx, clock, user.id);
        // Personal access tokens act as the person: a new password ends them, and what they minted.
        const pats = await revokeUserPats(trx, clock, user.id, 'password_changed');
        // Refresh tokens the person's sign-ins handed to apps end too (their grants stay).
        const refresh = await revokeOAuthTokens(trx, clock, { user_id: user.id, kind: 'rt' });
        const s = await signIn(trx, clock, who, {
          userId: user.id,
          orgId: req.principal?.defaultOrgId ?? null,
          method: 'password_change',
        });
        await audit(trx, clock, who, {
          orgId: null,
          action: 'user.password_changed',
          target: `user:${user.id}`,
          data: {
            revoked_sessions: revoked,
            revoked_tokens: pats.map((p) => p.prefix),
            revoked_refresh_tokens: refresh.count,
          },
        });
        return { revoked, token: s.token, hashes: [...pats.map((r) => r.token_hash), ...refresh.hashes] };
      });
      await deps.auth.changed({ user: user.id });
      for (const h of out.hashes) await deps.auth.changed({ token: h });
      if (req.principal?.kind === 'session') setSessionCookie(reply, config, out.token);
      return { revoked_sessions: out.revoked };
    },
  );
}
