import formbody from '@fastify/formbody';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SESSION_COOKIE } from '../../auth/session-cookie.js';
import { audit } from '../../audit/log.js';
import { membershipsOf } from '../../orgs/context.js';
import { formToken, formTokenValid } from '../../http/csrf.js';
import { actorOf } from '../../http/request.js';
import type { App } from '../../http/types.js';
import { escapeHtml } from '../../mail/templates.js';
import { PAGE_CSP, page, renderMessage } from '../../http/html.js';
import { recordConsent } from '../store/consents.js';
import { findClient } from '../store/clients.js';
import { consentPage } from './consent-page.js';
import {
  approveDeviceCode,
  denyDeviceCode,
  findPendingByUserCode,
  formatUserCode,
  normalizeUserCode,
  setDeviceCodeGrant,
} from '../store/device-codes.js';
import type { OAuthDeps } from '../grants/types.js';
import { scopesOf } from '../store/tokens.js';

/** Wrong user codes one person may enter per hour: the code space is large, guessing is not. */
export const DEVICE_CODE_ATTEMPTS_PER_HOUR = 20;

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .send(body);
}

function codeForm(csrf: string, value: string, error?: string): string {
  return page(
    'Connect a device',
    `${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<p>Enter the code your device or terminal shows. Only do this for a device you are using yourself.</p>
<form method="post" action="/device">
<input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}">
<label for="user_code">Code</label><input id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" required maxlength="20" value="${escapeHtml(value)}">
<button type="submit">Continue</button>
</form>`,
  );
}

/**
 * `/device` (RFC 8628 §3.3): a signed-in person enters the user code, sees what the device asks
 * for and decides. Same consent form as the authorization endpoint.
 */
export async function devicePage(app: App, deps: OAuthDeps): Promise<void> {
  const { db, clock, catalogue } = deps;
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  const attempts = deps.cache.limiter({
    name: 'oauth:device-verify',
    points: DEVICE_CODE_ATTEMPTS_PER_HOUR,
    windowSeconds: 3600,
  });

  const signedIn = (req: FastifyRequest) => (req.principal?.kind === 'session' ? req.principal.user : null);
  const csrfOf = (req: FastifyRequest) => formToken(req.cookies[SESSION_COOKIE]!);

  app.get(
    '/device',
    { config: { auth: 'optional', credentials: ['session'] }, schema: { hide: true } },
    async (req, reply) => {
      const user = signedIn(req);
      if (!user) return reply.redirect(`/login?return_to=${encodeURIComponent(req.url)}`, 303);
      const q = req.query as Record<string, unknown>;
      const prefill = typeof q.user_code === 'string' ? q.user_code.slice(0, 20) : '';
      return html(reply, 200, codeForm(csrfOf(req), prefill));
    },
  );

  app.post(
    '/device',
    { config: { auth: 'optional', credentials: ['session'] }, schema: { hide: true } },
    async (req, reply) => {
      const user = signedIn(req);
      if (!user) return reply.redirect('/login?return_to=%2Fdevice', 303);
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (!formTokenValid(req.cookies[SESSION_COOKIE], body.csrf_token)) {
        return html(
          reply,
          403,
          renderMessage('Request refused', 'This form was not issued to your session. Open /device again.'),
        );
      }
      const limited = await attempts.check(user.id);
      if (!limited.allowed) {
        reply.header('retry-after', String(limited.retryAfterSeconds));
        return html(reply, 429, renderMessage('Too many attempts', 'Too many wrong codes; try again later.'));
      }
      const code = typeof body.user_code === 'string' ? normalizeUserCode(body.user_code) : null;
      const pending = code ? await findPendingByUserCode(db, clock, code) : undefined;
      if (!pending) {
        await attempts.consume(user.id);
        return html(
          reply,
          400,
          codeForm(csrfOf(req), '', 'That code is not valid or has expired. Check it and try again.'),
        );
      }
      const client = await findClient(deps, pending.client_id, { fresh: false });
      const resource = catalogue.resource(pending.resource);
      const orgs = client
        ? (await membershipsOf(deps, user.id)).filter((o) => client.kind !== 'app' || o.id === client.orgId)
        : [];
      if (!client || !resource || orgs.length === 0) {
        return html(
          reply,
          403,
          renderMessage('Cannot authorise', 'You cannot authorise this device in any of your organisations.'),
        );
      }
      return html(
        reply,
        200,
        consentPage({
          client,
          resource,
          scopes: scopesOf(pending.scopes),
          catalogue,
          orgs,
          action: '/device/decision',
          hidden: { user_code: pending.user_code, csrf_token: csrfOf(req) },
        }),
      );
    },
  );

  app.post(
    '/device/decision',
    { config: { auth: 'optional', credentials: ['session'] }, schema: { hide: true } },
    async (req, reply) => {
      const user = signedIn(req);
      if (!user) return reply.redirect('/login?return_to=%2Fdevice', 303);
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (!formTokenValid(req.cookies[SESSION_COOKIE], body.csrf_token)) {
        return html(
          reply,
          403,
          renderMessage('Request refused', 'This form was not issued to your session. Open /device again.'),
        );
      }
      const code = typeof body.user_code === 'string' ? normalizeUserCode(body.user_code) : null;
      const pending = code ? await findPendingByUserCode(db, clock, code) : undefined;
      if (!pending)
        return html(
          reply,
          400,
          renderMessage('Code expired', 'That code is no longer valid. Start again on your device.'),
        );
      const requested = scopesOf(pending.scopes);
      const client = await findClient(deps, pending.client_id, { fresh: false });
      const orgs = client
        ? (await membershipsOf(deps, user.id)).filter((o) => client.kind !== 'app' || o.id === client.orgId)
        : [];
      const org = typeof body.org_id === 'string' ? orgs.find((o) => o.id === body.org_id) : undefined;
      const ticked = body.scope === undefined ? [] : Array.isArray(body.scope) ? body.scope : [body.scope];
      const granted = requested.filter((s) => ticked.includes(s));
      const approve =
        body.decision === 'approve' &&
        org !== undefined &&
        granted.length > 0 &&
        ticked.every((s) => requested.includes(s as string));
      const who = actorOf(req);
      const done = await db.transaction().execute(async (trx) => {
        if (!approve) {
          const r = await denyDeviceCode(trx, pending.id, user.id);
          if (r) {
            await audit(trx, clock, who, {
              orgId: org?.id ?? null,
              action: 'oauth.consent_denied',
              target: `client:${pending.client_id}`,
              data: {
                client_id: pending.client_id,
                user_id: user.id,
                resource: pending.resource,
                scopes: requested,
                flow: 'device',
              },
            });
          }
          return r ? 'denied' : 'gone';
        }
        const claimed = await approveDeviceCode(trx, pending.id, {
          userId: user.id,
          orgId: org.id,
          scopes: granted,
        });
        if (!claimed) return 'gone';
        const grantId = await recordConsent(trx, clock, who, {
          userId: user.id,
          orgId: org.id,
          clientId: pending.client_id,
          resource: pending.resource,
          scopes: granted,
        });
        await setDeviceCodeGrant(trx, pending.id, grantId);
        return 'approved';
      });
      if (done === 'gone')
        return html(
          reply,
          400,
          renderMessage('Code expired', 'That code is no longer valid. Start again on your device.'),
        );
      return html(
        reply,
        200,
        renderMessage(
          done === 'approved' ? 'Device connected' : 'Request denied',
          done === 'approved'
            ? `Code ${formatUserCode(pending.user_code)} is approved. You can return to your device.`
            : 'The device was not given access.',
        ),
      );
    },
  );
}
