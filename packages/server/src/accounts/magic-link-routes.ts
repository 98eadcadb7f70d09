import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import { ApiError } from '../http/errors.js';
import { actorOf, safeReturnTo, setSessionCookie } from '../http/request.js';
import { Email } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { sha256Hex } from '../lib/secrets.js';
import { magicLinkEmail } from '../mail/templates.js';
import { listUserOrgs } from '../orgs/queries.js';
import { renderMessage } from '../pages/render.js';
import { emailOrThrow, limit, WAITLISTED } from './input.js';
import { accountLimiters } from './limits.js';
import { consumeMagicLink, issueMagicLink, MAGIC_LINK_TTL_MS } from './magic-link.js';
import { signIn } from './signin.js';
import { SignupRefused } from './signup-policy.js';
import { createAccount, findUserByEmail } from './users.js';
import { joinWaitlist } from './waitlist.js';

/**
 * `POST /api/auth/magic-link` and its callback. The callback signs in, or creates the account
 * (the link proved the address) when the sign-up policy admits it; under `waitlist` it records
 * a request instead.
 */
export function magicLinkRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;
  const limits = accountLimiters(deps.cache);

  app.post(
    '/api/auth/magic-link',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['auth'],
        body: Type.Object(
          { email: Email, return_to: Type.Optional(Type.String({ maxLength: 2000 })) },
          { additionalProperties: false },
        ),
        response: { 202: Type.Object({ status: Type.Literal('sent'), detail: Type.String() }) },
      },
    },
    async (req, reply) => {
      const email = emailOrThrow(req.body.email);
      const returnTo = req.body.return_to === undefined ? null : safeReturnTo(req.body.return_to);
      if (req.body.return_to !== undefined && returnTo === null) {
        throw new ApiError('invalid_request', 'return_to must be a path on this server.');
      }
      await limit(limits.magicLinksPerIp, req.ip);
      const perEmail = await limits.magicLinksPerEmail.consume(sha256Hex(email));
      if (perEmail.allowed) {
        const token = await issueMagicLink(db, clock, email, returnTo);
        const link = `${config.publicUrl}/api/auth/magic-link/callback?token=${token}`;
        try {
          await deps.mailer.send(magicLinkEmail(email, link, MAGIC_LINK_TTL_MS / 60_000));
        } catch (err) {
          req.log.error({ err: (err as Error).message }, 'sending the magic link failed');
        }
      }
      // The same answer whether or not the account exists, and whether or not mail went out.
      return reply
        .code(202)
        .send({ status: 'sent', detail: 'If the address can receive mail, a sign-in link is on its way.' });
    },
  );

  app.get(
    '/api/auth/magic-link/callback',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['auth'],
        querystring: Type.Object(
          { token: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const who = actorOf(req);
      const result = await db.transaction().execute(async (trx) => {
        const link = await consumeMagicLink(trx, clock, req.query.token);
        if (!link) return null;
        let user = await findUserByEmail(trx, link.email);
        let orgId: string | null;
        if (!user) {
          let acct: Awaited<ReturnType<typeof createAccount>>;
          try {
            acct = await createAccount(trx, clock, who, {
              email: link.email,
              name: link.email.split('@')[0]!,
              passwordHash: null,
              emailVerified: true,
              via: 'magic_link',
            });
          } catch (err) {
            if (!(err instanceof SignupRefused)) throw err;
            // Nothing was written; the link stays used, and a waitlist request is recorded.
            if (err.policy === 'waitlist')
              await joinWaitlist(trx, clock, who, { email: link.email, name: null, via: 'magic_link' });
            return { refused: err.policy };
          }
          orgId = acct.org.id;
          user = { ...acct.user, password_hash: null, email_verified_at: clock.now() };
        } else {
          if (!user.email_verified_at) {
            await trx
              .updateTable('users')
              .set({ email_verified_at: clock.now() })
              .where('id', '=', user.id)
              .execute();
          }
          orgId = (await listUserOrgs(trx, user.id))[0]?.id ?? null;
        }
        const s = await signIn(trx, clock, who, { userId: user.id, orgId, method: 'magic_link' });
        return { token: s.token, returnTo: link.return_to };
      });
      if (result && 'refused' in result) {
        reply.type('text/html; charset=utf-8');
        return result.refused === 'waitlist'
          ? reply.code(202).send(renderMessage('You are on the waitlist', WAITLISTED))
          : reply
              .code(403)
              .send(
                renderMessage(
                  'Sign-ups are by invitation',
                  'New accounts on this server are by invitation only. Ask an organisation to invite you, then use the link in the invitation email.',
                ),
              );
      }
      if (!result) {
        return reply
          .code(400)
          .type('text/html; charset=utf-8')
          .send(
            renderMessage(
              'Link expired',
              'This sign-in link is invalid, expired or already used. Request a new one.',
            ),
          );
      }
      setSessionCookie(reply, config, result.token);
      return reply.redirect(safeReturnTo(result.returnTo) ?? '/', 303);
    },
  );
}
