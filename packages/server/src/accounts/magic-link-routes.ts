import formbody from '@fastify/formbody';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { actorOf, checkReturnTo, safeReturnTo, setHostCookie, setSessionCookie } from '../http/request.js';
import { Email } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { sha256Hex } from '../lib/secrets.js';
import { magicLinkEmail } from '../mail/templates.js';
import { listUserOrgs } from '../orgs/queries.js';
import { confirmPage, PAGE_CSP, renderMessage } from '../http/html.js';
import { maskEmail } from '../lib/email.js';
import { DEVICE_COOKIE, DEVICE_TTL_MS, deviceCookieValue } from './devices.js';
import { notifyNewDevice, signedInFromDevice } from './new-device.js';
import { type EmailProof, proofChanges, proveEmail } from './email-proof.js';
import { emailOrThrow, limit, WAITLISTED } from './input.js';
import { type AccountLimiters, accountLimiters } from './limits.js';
import {
  consumeMagicLink,
  findLiveMagicLink,
  issueMagicLink,
  MAGIC_LINK_BROWSER_COOKIE,
  MAGIC_LINK_TTL_MS,
  sameBrowser,
} from './magic-link.js';
import { revokeSession } from './sessions.js';
import { signIn } from './signin.js';
import { SignupRefused } from './signup-policy.js';
import { createAccount, findUserByEmail } from './users.js';
import { joinWaitlist } from './waitlist.js';
import { htmlPage, pageOrProblem, redirect } from '../http/schemas/responses.js';

export const MAGIC_LINK_CALLBACK_PATH = '/api/auth/magic-link/callback';

const Token = Type.String({ minLength: 1, maxLength: 200 });
const BROWSER_COOKIE_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const EXPIRED = 'This sign-in link is invalid, expired or already used. Request a new one.';

function html(reply: FastifyReply, status: number, body: string) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .send(body);
}

/** The page a link opens: one button; from another browser, it first says whose account it is. */
function linkPage(token: string, email: string, here: boolean): string {
  const masked = maskEmail(email);
  return here
    ? confirmPage({
        title: 'Sign in to Latchkey',
        text: [`Continue to sign in as ${masked}.`],
        action: MAGIC_LINK_CALLBACK_PATH,
        fields: { token },
        button: 'Sign in',
      })
    : confirmPage({
        title: 'Sign in from this browser?',
        text: [
          `This link signs this browser in to the Latchkey account of ${masked}. It was asked for from another browser.`,
          'Continue only if you asked for it yourself. If someone sent you this link, close this page: it would sign you in to their account.',
        ],
        action: MAGIC_LINK_CALLBACK_PATH,
        fields: { token, confirm: 'yes' },
        button: `Sign in as ${masked}`,
      });
}

/**
 * Mails a sign-in link to `email` (a normalised, valid address) bound to the asking browser, for
 * the API and the sign-in page alike. Throttled per IP (429) and, silently, per address: beyond
 * that budget nothing is sent but the caller answers the same. Returns the browser cookie value
 * to set (the one the browser held, when well-formed).
 */
export async function sendSignInLink(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'mailer'>,
  limits: AccountLimiters,
  r: {
    email: string;
    returnTo: string | null;
    ip: string;
    heldBrowser: string | undefined;
    log: { error: (obj: object, msg: string) => void };
  },
): Promise<string> {
  await limit(limits.magicLinksPerIp, r.ip);
  const browser =
    r.heldBrowser !== undefined && BROWSER_COOKIE_SHAPE.test(r.heldBrowser)
      ? r.heldBrowser
      : deviceCookieValue(undefined);
  const perEmail = await limits.magicLinksPerEmail.consume(sha256Hex(r.email));
  if (perEmail.allowed) {
    const token = await issueMagicLink(deps.db, deps.clock, r.email, r.returnTo, browser);
    const link = `${deps.config.publicUrl}${MAGIC_LINK_CALLBACK_PATH}?token=${token}`;
    try {
      await deps.mailer.send(magicLinkEmail(r.email, link, MAGIC_LINK_TTL_MS / 60_000));
    } catch (err) {
      r.log.error({ err: (err as Error).message }, 'sending the magic link failed');
    }
  }
  return browser;
}

/**
 * `POST /api/auth/magic-link` mails a sign-in link and binds it to the asking browser (a cookie).
 * The link opens a page (`GET …/callback`, which changes nothing) whose one button POSTs: that
 * consumes the link atomically and signs in, or creates the account (the link proved the
 * address) when the sign-up policy admits it; under `waitlist` it records a request instead.
 * A browser other than the one that asked must confirm, after seeing whose account it is
 * (login CSRF: an attacker's own link planted in a victim's browser).
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
      const returnTo =
        req.body.return_to === undefined ? null : checkReturnTo(req.body.return_to, config.publicUrl);
      if (req.body.return_to !== undefined && returnTo === null) {
        throw new ApiError('invalid_request', 'return_to must be a path on this server.');
      }
      const browser = await sendSignInLink(deps, limits, {
        email,
        returnTo,
        ip: req.ip,
        heldBrowser: req.cookies[MAGIC_LINK_BROWSER_COOKIE],
        log: req.log,
      });
      setHostCookie(reply, config, {
        name: MAGIC_LINK_BROWSER_COOKIE,
        value: browser,
        maxAgeSeconds: MAGIC_LINK_TTL_MS / 1000,
      });
      // The same answer whether or not the account exists, and whether or not mail went out.
      return reply
        .code(202)
        .send({ status: 'sent', detail: 'If the address can receive mail, a sign-in link is on its way.' });
    },
  );

  // The link's page and its button: form posts, so in a scope of their own with the form parser.
  void app.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: 16 * 1024 });
    const pages = scope as unknown as App;

    pages.get(
      MAGIC_LINK_CALLBACK_PATH,
      {
        config: { auth: 'none' },
        schema: {
          tags: ['auth'],
          summary: 'The page a sign-in link opens: one button that signs in (the GET changes nothing)',
          querystring: Type.Object({ token: Token }, { additionalProperties: false }),
          response: {
            200: htmlPage('The page with its one button.'),
            '4xx': pageOrProblem('The link expired or was used.'),
          },
        },
      },
      async (req, reply) => {
        const link = await findLiveMagicLink(db, clock, req.query.token);
        if (!link) return html(reply, 400, renderMessage('Link expired', EXPIRED));
        const here = sameBrowser(link, req.cookies[MAGIC_LINK_BROWSER_COOKIE]);
        return html(reply, 200, linkPage(req.query.token, link.email, here));
      },
    );

    pages.post(
      MAGIC_LINK_CALLBACK_PATH,
      {
        config: { auth: 'optional', credentials: ['session'] },
        schema: {
          tags: ['auth'],
          summary: 'Uses a sign-in link: signs this browser in',
          body: Type.Object(
            { token: Token, confirm: Type.Optional(Type.Literal('yes')) },
            { additionalProperties: false },
          ),
          response: {
            200: htmlPage('Another browser opened the link: a page asks to confirm.'),
            202: htmlPage('Sign-ups are by waitlist: the address is on it.'),
            303: redirect('Signed in: to where the sign-in started.'),
            '4xx': pageOrProblem('The link expired or was used, or sign-ups are closed.'),
          },
        },
      },
      async (req, reply) => {
        const who = actorOf(req);
        const previous =
          req.principal?.kind === 'session' && req.principal.user && req.principal.sessionId
            ? { userId: req.principal.user.id, sessionId: req.principal.sessionId }
            : null;
        const device = deviceCookieValue(req.cookies[DEVICE_COOKIE]);
        let proof: EmailProof | null = null;
        let ended: string | null = null;
        const result = await db.transaction().execute(async (trx) => {
          const link = await consumeMagicLink(trx, clock, req.body.token, {
            browser: req.cookies[MAGIC_LINK_BROWSER_COOKIE],
            confirmed: req.body.confirm === 'yes',
          });
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
            // The link proved the address: an account that never did loses what its maker held,
            // unless this browser is signed in to it already (then those credentials are its own).
            proof = await proveEmail(trx, clock, { ...who, actor: `user:${user.id}` }, user, 'magic_link', {
              holder: previous?.userId === user.id,
            });
            orgId = (await listUserOrgs(trx, user.id))[0]?.id ?? null;
          }
          // A new session at every sign-in; the one the browser held before (if any) ends.
          if (previous) ended = await revokeSession(trx, clock, previous.userId, previous.sessionId);
          const s = await signIn(trx, clock, who, { userId: user.id, orgId, method: 'magic_link' });
          const news = await signedInFromDevice(trx, clock, who, {
            userId: user.id,
            method: 'magic_link',
            device,
            pending: s.pending,
          });
          return { token: s.token, returnTo: link.return_to, news };
        });
        if (result && 'refused' in result) {
          return result.refused === 'waitlist'
            ? html(reply, 202, renderMessage('You are on the waitlist', WAITLISTED))
            : html(
                reply,
                403,
                renderMessage(
                  'Sign-ups are by invitation',
                  'New accounts on this server are by invitation only. Ask an organisation to invite you, then use the link in the invitation email.',
                ),
              );
        }
        if (!result) {
          // A live link used from another browser without confirming: ask (the page says whose it is).
          const live =
            req.body.confirm === 'yes' ? undefined : await findLiveMagicLink(db, clock, req.body.token);
          if (live) return html(reply, 200, linkPage(req.body.token, live.email, false));
          return html(reply, 400, renderMessage('Link expired', EXPIRED));
        }
        if (ended) await deps.auth.changed({ token: ended });
        for (const change of proofChanges(proof)) await deps.auth.changed(change);
        await notifyNewDevice(deps, result.news, req.log);
        setSessionCookie(reply, config, result.token);
        setHostCookie(reply, config, {
          name: DEVICE_COOKIE,
          value: device,
          maxAgeSeconds: DEVICE_TTL_MS / 1000,
        });
        return reply.redirect(safeReturnTo(result.returnTo, config.publicUrl), 303);
      },
    );
  });
}
