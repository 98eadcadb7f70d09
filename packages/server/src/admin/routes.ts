import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { readSignupPolicy, setSignupPolicy } from '../accounts/signup-policy.js';
import {
  approvalEmail,
  decideWaitlist,
  listWaitlist,
  type WaitlistRow,
  waitlistLink,
} from '../accounts/waitlist.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../http/pagination.js';
import { actorOf, principalOf } from '../http/request.js';
import { IdParams, Timestamp } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { requireInstanceAdmin } from '../auth/instance-admin.js';
import { adminUserRoutes } from './users-routes.js';

const Policy = Type.Union([Type.Literal('open'), Type.Literal('invite-only'), Type.Literal('waitlist')]);
const Status = Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('denied')]);
const OrNull = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const PolicyShape = Type.Object({
  policy: Policy,
  updated_at: OrNull(Timestamp),
  updated_by: OrNull(Type.String()),
});

const Entry = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: OrNull(Type.String()),
  /** The way the person tried to sign up: password, magic_link, github, google… */
  via: Type.String(),
  status: Status,
  created_at: Timestamp,
  decided_at: OrNull(Timestamp),
  /** When the person created their account with the approval. */
  joined_at: OrNull(Timestamp),
  email_sent: Type.Optional(Type.Boolean()),
});

function shape(r: WaitlistRow) {
  return {
    id: r.id,
    email: r.email,
    name: r.name,
    via: r.via,
    status: r.status,
    created_at: r.created_at.toISOString(),
    decided_at: r.decided_at?.toISOString() ?? null,
    joined_at: r.used_at?.toISOString() ?? null,
  };
}

/** `/api/v1/admin/*`: operator settings for the whole instance. Instance admins only. */
export function adminRoutes(app: App, deps: Deps): void {
  const { db, clock, config, mailer } = deps;
  adminUserRoutes(app, deps);
  const admin = (req: FastifyRequest) => requireInstanceAdmin(db, principalOf(req));

  app.get(
    '/api/v1/admin/signup-policy',
    {
      config: { auth: 'user', credentials: ['session', 'admin-token'] },
      schema: { tags: ['admin'], response: { 200: PolicyShape } },
    },
    async (req) => {
      await admin(req);
      const s = await readSignupPolicy(db);
      return { policy: s.policy, updated_at: s.updatedAt?.toISOString() ?? null, updated_by: s.updatedBy };
    },
  );

  app.put(
    '/api/v1/admin/signup-policy',
    {
      config: { auth: 'user', credentials: ['session', 'admin-token'] },
      schema: {
        tags: ['admin'],
        body: Type.Object({ policy: Policy }, { additionalProperties: false }),
        response: { 200: PolicyShape },
      },
    },
    async (req) => {
      await admin(req);
      const s = await db
        .transaction()
        .execute((trx) => setSignupPolicy(trx, clock, actorOf(req), req.body.policy));
      return { policy: s.policy, updated_at: s.updatedAt?.toISOString() ?? null, updated_by: s.updatedBy };
    },
  );

  app.get(
    '/api/v1/admin/waitlist',
    {
      config: { auth: 'user', credentials: ['session', 'admin-token'] },
      schema: {
        tags: ['admin'],
        querystring: Type.Object(
          { ...PageQuery, status: Type.Optional(Status) },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(Entry) },
      },
    },
    async (req) => {
      await admin(req);
      const limit = req.query.limit ?? 50;
      const rows = await listWaitlist(db, {
        status: req.query.status ?? null,
        limit,
        after: decodeCursor(req.query.cursor),
      });
      const p = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return { data: p.data.map(shape), next_cursor: p.next_cursor };
    },
  );

  const decide = async (req: FastifyRequest, id: string, decision: 'approved' | 'denied') => {
    await admin(req);
    const out = await db
      .transaction()
      .execute((trx) => decideWaitlist(trx, clock, actorOf(req), id, decision));
    if (!out.ok) {
      if (out.reason === 'already_joined')
        throw new ApiError('conflict', 'This person has created their account already.');
      throw new ApiError('not_found', 'No such waitlist request.');
    }
    if (!out.token) return shape(out.row);
    let sent = true;
    try {
      await mailer.send(approvalEmail(out.row.email, waitlistLink(config.publicUrl, out.token)));
    } catch (err) {
      sent = false;
      req.log.error(
        { err: (err as Error).message },
        'sending a waitlist approval failed; approve again to resend',
      );
    }
    return { ...shape(out.row), email_sent: sent };
  };

  app.post(
    '/api/v1/admin/waitlist/:id/approve',
    {
      config: { auth: 'user', credentials: ['session', 'admin-token'] },
      schema: {
        tags: ['admin'],
        summary:
          'Approve a sign-up request: mails a single-use link to create the account (again: a new link)',
        params: IdParams,
        response: { 200: Entry },
      },
    },
    async (req) => decide(req, req.params.id, 'approved'),
  );

  app.post(
    '/api/v1/admin/waitlist/:id/deny',
    {
      config: { auth: 'user', credentials: ['session', 'admin-token'] },
      schema: {
        tags: ['admin'],
        summary: 'Deny a sign-up request (an approval link sent earlier stops working)',
        params: IdParams,
        response: { 200: Entry },
      },
    },
    async (req) => decide(req, req.params.id, 'denied'),
  );
}
