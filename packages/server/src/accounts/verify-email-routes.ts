import formbody from '@fastify/formbody';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import { ApiError, rateLimited } from '../errors.js';
import { actorOf, userOf } from '../http/request.js';
import type { App } from '../http/types.js';
import { confirmPage, PAGE_CSP, renderMessage } from '../http/html.js';
import { maskEmail } from '../lib/email.js';
import { proofChanges, proveEmail } from './email-proof.js';
import {
  consumeEmailVerification,
  findLiveEmailVerification,
  sendEmailVerification,
  VERIFY_EMAIL_PATH,
} from './email-verification.js';
import { accountLimiters } from './limits.js';
import { verificationTarget } from './queries.js';

const Token = Type.String({ minLength: 1, maxLength: 200 });

const EXPIRED =
  'This confirmation link is invalid, expired or already used. Sign in and ask for a new one from your account.';

/** The signed-in browser's person, when the request carries a session. */
function sessionUserId(req: FastifyRequest): string | null {
  return req.principal?.kind === 'session' ? (req.principal.user?.id ?? null) : null;
}

function html(reply: FastifyReply, status: number, body: string) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .header('cache-control', 'no-store')
    .send(body);
}

/**
 * Proving a password sign-up's address:
 * - `POST /api/auth/verify-email/resend`: the signed-in person asks for a new link (throttled);
 * - `GET /verify-email?token=…`: the mailed link opens a page with one button (changes nothing,
 *   so a mail scanner that fetches it uses nothing up);
 * - `POST /verify-email`: the button; consumes the link atomically and proves the address. In
 *   a browser signed in to that account, nothing else changes (the credentials are the prover's
 *   own); anywhere else, the credentials made before end first (`proveEmail`), and nobody is
 *   signed in — the owner signs in with a link sent to the address.
 */
export function verifyEmailRoutes(app: App, deps: Deps): void {
  const { db, clock } = deps;
  const limits = accountLimiters(deps.cache);

  app.post(
    '/api/auth/verify-email/resend',
    {
      config: { auth: 'user', credentials: ['session'] },
      schema: {
        tags: ['auth'],
        summary: 'Send the signed-in person a new link that confirms their email address',
        response: { 202: Type.Object({ status: Type.Literal('sent'), detail: Type.String() }) },
      },
    },
    async (req, reply) => {
      const me = userOf(req);
      const user = await verificationTarget(db, me.id);
      if (user.email_verified_at) throw new ApiError('conflict', 'The email address is already verified.');
      const r = await limits.verificationResendsPerUser.consume(user.id);
      if (!r.allowed)
        throw rateLimited(r.retryAfterSeconds, 'Too many confirmation links asked for; try later.');
      await sendEmailVerification(deps, user, req.log);
      return reply
        .code(202)
        .send({ status: 'sent', detail: `A confirmation link is on its way to ${user.email}.` });
    },
  );

  // The page and its button: form posts, so in a scope of their own with the form parser.
  void app.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: 16 * 1024 });
    const pages = scope as unknown as App;

    pages.get(
      VERIFY_EMAIL_PATH,
      {
        config: { auth: 'optional', credentials: ['session'] },
        schema: { hide: true, querystring: Type.Object({ token: Token }, { additionalProperties: false }) },
      },
      async (req, reply) => {
        const link = await findLiveEmailVerification(db, clock, req.query.token);
        if (!link || link.email_verified_at) return html(reply, 400, renderMessage('Link expired', EXPIRED));
        const own = sessionUserId(req) === link.user_id;
        const masked = maskEmail(link.email);
        return html(
          reply,
          200,
          confirmPage({
            title: 'Confirm your email address',
            text: own
              ? [`Confirm that ${masked} is your address.`]
              : [
                  `Confirm that ${masked} is your address, to finish setting up its Latchkey account.`,
                  'If you did not sign up yourself, someone else used your address: confirming ends the password and sessions they set, and the account is then yours alone. Sign in afterwards with a link sent to this address.',
                ],
            action: VERIFY_EMAIL_PATH,
            fields: { token: req.query.token },
            button: 'Confirm my address',
          }),
        );
      },
    );

    pages.post(
      VERIFY_EMAIL_PATH,
      {
        config: { auth: 'optional', credentials: ['session'] },
        schema: { hide: true, body: Type.Object({ token: Token }, { additionalProperties: false }) },
      },
      async (req, reply) => {
        const signedIn = sessionUserId(req);
        const who = actorOf(req);
        const out = await db.transaction().execute(async (trx) => {
          const user = await consumeEmailVerification(trx, clock, req.body.token);
          if (!user) return null;
          const holder = signedIn === user.id;
          const proof = await proveEmail(
            trx,
            clock,
            { ...who, actor: holder ? `user:${user.id}` : who.actor },
            user,
            'verification_link',
            { holder },
          );
          return { holder, proof, already: user.email_verified_at !== null };
        });
        if (!out) return html(reply, 400, renderMessage('Link expired', EXPIRED));
        for (const change of proofChanges(out.proof)) await deps.auth.changed(change);
        const text =
          out.holder || out.already
            ? 'Your email address is confirmed.'
            : 'Your email address is confirmed, and the account is yours alone: whatever password or sessions it had before were ended. Sign in with a link sent to this address.';
        return html(reply, 200, renderMessage('Address confirmed', text));
      },
    );
  });
}
