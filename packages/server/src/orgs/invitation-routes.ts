import { Type } from 'typebox';
import { audit } from '../audit/log.js';
import { isUniqueViolation } from '../db/errors.js';
import { isValidEmail, normalizeEmail } from '../lib/email.js';
import type { Deps } from '../deps.js';
import { ApiError, rateLimited } from '../errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../http/pagination.js';
import { actorOf, orgOf, principalOf } from '../http/request.js';
import { Email, IdParams, RoleShape, Timestamp } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { invitationEmail } from '../mail/templates.js';
import type { Mailer } from '../mail/mailer.js';
import type { FastifyBaseLogger } from 'fastify';
import {
  createInvitation,
  findOpenInvitationByEmail,
  INVITATION_TTL_MS,
  listOpenInvitations,
  revokeInvitation,
  rotateInvitation,
} from './invitations.js';
import { invitationRole, memberByEmail } from './queries.js';
import { mayGrant } from './roles.js';

/** Invitations one org may send per hour (bounds mail sent on its behalf). */
export const INVITATIONS_PER_ORG_PER_HOUR = 100;

const Invitation = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: RoleShape,
  status: Type.Literal('pending'),
  invited_by: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  expires_at: Timestamp,
  email_sent: Type.Optional(Type.Boolean()),
});

interface InvitationRow {
  id: string;
  email: string;
  role: 'owner' | 'admin' | 'member' | 'billing';
  invited_by: string | null;
  created_at: Date;
  expires_at: Date;
}

function shape(r: InvitationRow) {
  return {
    id: r.id,
    email: r.email,
    role: r.role,
    status: 'pending' as const,
    invited_by: r.invited_by,
    created_at: r.created_at.toISOString(),
    expires_at: r.expires_at.toISOString(),
  };
}

export function invitationLink(publicUrl: string, token: string): string {
  return `${publicUrl}/invite?token=${token}`;
}

async function sendInvitation(
  mailer: Mailer,
  log: FastifyBaseLogger,
  m: { to: string; orgName: string; inviterName: string | null; role: string; link: string },
): Promise<boolean> {
  try {
    await mailer.send(invitationEmail({ ...m, days: INVITATION_TTL_MS / 86_400_000 }));
    return true;
  } catch (err) {
    log.error({ err: (err as Error).message }, 'sending an invitation failed; it can be resent');
    return false;
  }
}

/** `/api/v1/org/invitations`: an org's invitations (accepting one is joining/routes.ts). */
export function invitationRoutes(app: App, deps: Deps): void {
  const { db, clock, config, mailer } = deps;
  const perOrg = deps.cache.limiter({
    name: 'orgs:invitations',
    points: INVITATIONS_PER_ORG_PER_HOUR,
    windowSeconds: 3600,
  });

  app.post(
    '/api/v1/org/invitations',
    {
      config: { auth: 'org', permission: 'invitations:manage' },
      schema: {
        tags: ['invitations'],
        body: Type.Object({ email: Email, role: RoleShape }, { additionalProperties: false }),
        response: { 201: Invitation },
      },
    },
    async (req, reply) => {
      const org = orgOf(req);
      const email = normalizeEmail(req.body.email);
      if (!isValidEmail(email)) throw new ApiError('invalid_request', 'The email address is not valid.');
      if (!mayGrant(org.role, req.body.role))
        throw new ApiError('forbidden', `The ${org.role} role may not invite a ${req.body.role}.`);
      const limited = await perOrg.consume(org.id);
      if (!limited.allowed)
        throw rateLimited(
          limited.retryAfterSeconds,
          'This organisation has sent too many invitations; try later.',
        );
      const inviter = principalOf(req).user;
      const created = await db
        .transaction()
        .execute(async (trx) => {
          const member = await memberByEmail(trx, org.id, email);
          if (member) throw new ApiError('conflict', 'This person is already a member.');
          if (await findOpenInvitationByEmail(trx, clock, org.id, email)) {
            throw new ApiError('conflict', 'An invitation for this email is pending; resend or cancel it.');
          }
          const inv = await createInvitation(trx, clock, {
            orgId: org.id,
            email,
            role: req.body.role,
            invitedBy: inviter?.id ?? null,
          });
          await audit(trx, clock, actorOf(req), {
            orgId: org.id,
            action: 'invitation.created',
            target: `invitation:${inv.row.id}`,
            data: { email, role: req.body.role },
          });
          return inv;
        })
        .catch((err: unknown) => {
          // Two identical invitations raced past the check: the open-invitation unique index refused one.
          if (isUniqueViolation(err))
            throw new ApiError('conflict', 'An invitation for this email is pending; resend or cancel it.');
          throw err;
        });
      const sent = await sendInvitation(mailer, req.log, {
        to: email,
        orgName: org.name,
        inviterName: inviter?.name ?? null,
        role: req.body.role,
        link: invitationLink(config.publicUrl, created.token),
      });
      return reply.code(201).send({ ...shape(created.row), email_sent: sent });
    },
  );

  app.get(
    '/api/v1/org/invitations',
    {
      config: { auth: 'org', permission: 'invitations:manage' },
      schema: {
        tags: ['invitations'],
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: PageOf(Invitation) },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const limit = req.query.limit ?? 50;
      const rows = await listOpenInvitations(db, clock, org.id, limit, decodeCursor(req.query.cursor));
      const p = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return { data: p.data.map(shape), next_cursor: p.next_cursor };
    },
  );

  app.delete(
    '/api/v1/org/invitations/:id',
    {
      config: { auth: 'org', permission: 'invitations:manage' },
      schema: { tags: ['invitations'], params: IdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const org = orgOf(req);
      const done = await db.transaction().execute(async (trx) => {
        const r = await revokeInvitation(trx, clock, org.id, req.params.id);
        if (r)
          await audit(trx, clock, actorOf(req), {
            orgId: org.id,
            action: 'invitation.revoked',
            target: `invitation:${r.id}`,
            data: { email: r.email },
          });
        return r;
      });
      if (!done) throw new ApiError('not_found', 'No such pending invitation.');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/org/invitations/:id/resend',
    {
      config: { auth: 'org', permission: 'invitations:manage' },
      schema: { tags: ['invitations'], params: IdParams, response: { 200: Invitation } },
    },
    async (req) => {
      const org = orgOf(req);
      const limited = await perOrg.consume(org.id);
      if (!limited.allowed)
        throw rateLimited(
          limited.retryAfterSeconds,
          'This organisation has sent too many invitations; try later.',
        );
      const rotated = await db.transaction().execute(async (trx) => {
        const open = await invitationRole(trx, org.id, req.params.id);
        if (open && !mayGrant(org.role, open.role))
          throw new ApiError('forbidden', `The ${org.role} role may not invite a ${open.role}.`);
        const r = await rotateInvitation(trx, clock, org.id, req.params.id);
        if (r)
          await audit(trx, clock, actorOf(req), {
            orgId: org.id,
            action: 'invitation.resent',
            target: `invitation:${r.row.id}`,
          });
        return r;
      });
      if (!rotated) throw new ApiError('not_found', 'No such pending invitation.');
      const sent = await sendInvitation(mailer, req.log, {
        to: rotated.row.email,
        orgName: org.name,
        inviterName: principalOf(req).user?.name ?? null,
        role: rotated.row.role,
        link: invitationLink(config.publicUrl, rotated.token),
      });
      return { ...shape(rotated.row), email_sent: sent };
    },
  );
}
