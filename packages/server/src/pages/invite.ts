import { Type } from 'typebox';
import {
  checkPassword,
  hashPassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_PROBLEM_TEXT,
} from '../accounts/passwords.js';
import { signIn } from '../accounts/signin.js';
import { cleanName, NAME_MAX } from '../lib/names.js';
import { createAccount, findUserByEmail } from '../accounts/users.js';
import { isUniqueViolation } from '../db/errors.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { actorOf, setSessionCookie } from '../http/request.js';
import type { App } from '../http/types.js';
import { escapeHtml } from '../mail/templates.js';
import { acceptInvitation, ssoOrgOfCaller } from '../joining/accept.js';
import { findInvitationByToken } from '../orgs/invitations.js';
import { page, renderMessage } from '../http/html.js';

const INVALID = 'This invitation is invalid, expired or already used. Ask for a new one.';

const Form = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 200 }),
    name: Type.Optional(Type.String({ maxLength: NAME_MAX })),
    password: Type.Optional(Type.String({ maxLength: PASSWORD_MAX_LENGTH })),
  },
  { additionalProperties: false },
);

interface Invite {
  email: string;
  role: string;
  org_name: string;
}

/**
 * Where an existing account signs in to accept: the one sign-in page (every factor, SSO
 * enforcement, failure limits), which comes back to the invitation afterwards.
 */
function inviteSignInUrl(token: string): string {
  return `/login?return_to=${encodeURIComponent(`/invite?token=${encodeURIComponent(token)}`)}`;
}

function invitePage(
  token: string,
  inv: Invite,
  mode: 'accept' | 'signin' | 'signup',
  error?: string,
): string {
  const intro = `<p>You are invited to join <strong>${escapeHtml(inv.org_name)}</strong> as <strong>${escapeHtml(inv.role)}</strong>.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}`;
  if (mode === 'signin') {
    // No password here: signing in happens on the sign-in page, with its second factor.
    return page(
      'Invitation',
      `${intro}<p>An account for ${escapeHtml(inv.email)} exists. <a href="${escapeHtml(inviteSignInUrl(token))}">Sign in to accept</a>.</p>`,
    );
  }
  const hidden = `<input type="hidden" name="token" value="${escapeHtml(token)}">`;
  const fields =
    mode === 'accept'
      ? ''
      : `<p>Create your account for ${escapeHtml(inv.email)} to accept.</p>
<label for="name">Your name</label><input id="name" name="name" autocomplete="name" required maxlength="${NAME_MAX}">
<label for="password">Password (at least 10 characters)</label><input id="password" name="password" type="password" autocomplete="new-password" required minlength="10">`;
  const label = mode === 'signup' ? 'Create account and join' : 'Join';
  return page(
    'Invitation',
    `${intro}<form method="post" action="/invite">${hidden}${fields}<button type="submit">${label}</button></form>`,
  );
}

/**
 * The page for an acceptance refused because the org enforces single sign-on (`sso_required`, from
 * `acceptInvitation` or `signIn`): it names the code (`data-code`) and links to the org's
 * identity provider. Null for any other error.
 */
function ssoRequiredPage(err: unknown): string | null {
  if (!(err instanceof ApiError) || err.code !== 'sso_required') return null;
  const url = err.options.extra?.sso_url;
  const link =
    typeof url === 'string'
      ? `<p><a href="${escapeHtml(url)}">Sign in with single sign-on</a> to join.</p>`
      : '';
  return page(
    'Single sign-on required',
    `<p class="error" role="alert" data-code="sso_required">${escapeHtml(err.detail ?? err.message)}</p>${link}`,
  );
}

/**
 * `/invite?token=…`: the page an invitation email links to. Accepts as the signed-in person; sends
 * an existing account that is not signed in to `/login` (and back); lets a new person create their
 * account and join. It never signs an existing account in itself.
 */
export function inviteRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;

  app.get(
    '/invite',
    {
      config: { auth: 'optional', credentials: ['session'] },
      schema: {
        hide: true,
        querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 200 })) }),
      },
    },
    async (req, reply) => {
      reply.type('text/html; charset=utf-8');
      const token = req.query.token ?? '';
      const inv = token ? await findInvitationByToken(db, clock, token) : undefined;
      if (!inv) return reply.code(404).send(renderMessage('Invitation not valid', INVALID));
      const user = req.principal?.kind === 'session' ? req.principal.user : null;
      if (user && user.email !== inv.email) {
        return reply
          .code(403)
          .send(
            renderMessage(
              'Invitation for someone else',
              'This invitation was sent to another email address. Sign out and open the link again.',
            ),
          );
      }
      if (user) return invitePage(token, inv, 'accept');
      return invitePage(token, inv, (await findUserByEmail(db, inv.email)) ? 'signin' : 'signup');
    },
  );

  app.post(
    '/invite',
    { config: { auth: 'optional', credentials: ['session'] }, schema: { hide: true, body: Form } },
    async (req, reply) => {
      reply.type('text/html; charset=utf-8');
      const { token } = req.body;
      const inv = await findInvitationByToken(db, clock, token);
      if (!inv) return reply.code(400).send(renderMessage('Invitation not valid', INVALID));
      const who = actorOf(req);
      const sessionUser = req.principal?.kind === 'session' ? req.principal.user : null;

      if (sessionUser) {
        const ssoOrgId = await ssoOrgOfCaller(db, clock, req.principal);
        let out: Awaited<ReturnType<typeof acceptInvitation>>;
        try {
          out = await db
            .transaction()
            .execute((trx) => acceptInvitation(trx, clock, who, { token, user: sessionUser, ssoOrgId }));
        } catch (err) {
          const refused = ssoRequiredPage(err);
          if (refused) return reply.code(403).send(refused);
          throw err;
        }
        if (!out.ok) {
          const msg =
            out.reason === 'already_member'
              ? 'You are already a member of this organisation.'
              : out.reason === 'wrong_email'
                ? 'This invitation was sent to another email address.'
                : INVALID;
          return reply.code(out.reason === 'wrong_email' ? 403 : 400).send(renderMessage('Invitation', msg));
        }
        await deps.auth.changed({ user: sessionUser.id });
        return reply.redirect('/', 303);
      }

      // An existing account signs in on the sign-in page first; nothing changes here.
      if (await findUserByEmail(db, inv.email)) return reply.redirect(inviteSignInUrl(token), 303);

      const name = cleanName(req.body.name ?? '');
      if (!name)
        return reply.code(400).send(invitePage(token, inv, 'signup', 'Your name must not be empty.'));
      const problem = checkPassword(req.body.password ?? '');
      if (problem)
        return reply.code(400).send(invitePage(token, inv, 'signup', PASSWORD_PROBLEM_TEXT[problem]));
      const passwordHash = await hashPassword(req.body.password ?? '');
      class Gone extends Error {}
      let result: string | null;
      try {
        result = await db.transaction().execute(async (trx) => {
          if (await findUserByEmail(trx, inv.email)) return null;
          const acct = await createAccount(trx, clock, who, {
            email: inv.email,
            name,
            passwordHash,
            emailVerified: true,
            via: 'invitation',
            admission: { kind: 'invitation', token },
          });
          // Refused (`sso_required`) when the org enforces SSO over the address: the new account
          // is rolled back with it, and the invitation stays open for the org's IdP.
          const out = await acceptInvitation(
            trx,
            clock,
            { ...who, actor: `user:${acct.user.id}` },
            {
              token,
              user: acct.user,
              ssoOrgId: null,
            },
          );
          // Used up by someone else meanwhile: roll the new account back too.
          if (!out.ok) throw new Gone();
          const s = await signIn(trx, clock, who, {
            userId: acct.user.id,
            orgId: out.org.id,
            method: 'password',
          });
          return s.token;
        });
      } catch (err) {
        if (err instanceof Gone) return reply.code(400).send(renderMessage('Invitation not valid', INVALID));
        const refused = ssoRequiredPage(err);
        if (refused) return reply.code(403).send(refused);
        if (!isUniqueViolation(err)) throw err;
        result = null;
      }
      if (!result)
        return reply
          .code(409)
          .send(invitePage(token, inv, 'signin', 'An account with this email now exists; sign in.'));
      setSessionCookie(reply, config, result);
      return reply.redirect('/', 303);
    },
  );
}
