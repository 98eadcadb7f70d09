import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { Type } from 'typebox';
import { audit } from '../../audit/log.js';
import type { Deps } from '../../deps.js';
import { ApiError } from '../../errors.js';
import { actorOf, principalOf, userOf } from '../../http/request.js';
import { IdParams } from '../../http/shapes.js';
import type { App } from '../../http/types.js';
import { recordSecondFactor } from '../sessions.js';
import { requireStepUp } from '../step-up.js';
import { forgetMfaMemo } from './org-policy.js';
import { PASSKEY_NAME_MAX, passkeyRegistrationOptions, registerPasskey } from './passkeys.js';
import { regenerateRecoveryCodes, remainingRecoveryCodes, removeRecoveryCodes } from './recovery.js';
import { deletePasskey, ownPasskey } from '../queries.js';
import { Options, PasskeyShape, WebAuthnJson, sessionAccount } from './shapes.js';
import { keepRequiredFactor } from './factor-routes.js';

/** The account's passkeys (`/api/v1/me/passkeys*`): registering one and removing one. */
export function passkeyRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;

  // ---- passkeys ------------------------------------------------------------------------------

  app.post(
    '/api/v1/me/passkeys/options',
    { config: sessionAccount, schema: { tags: ['account'], response: { 200: Options } } },
    async (req) => {
      const user = userOf(req);
      const p = principalOf(req);
      await requireStepUp(deps, p);
      const options = await passkeyRegistrationOptions(deps, { ...user, sessionId: p.sessionId! });
      if (!options) throw new ApiError('conflict', 'This account has as many passkeys as it may have.');
      return options;
    },
  );

  app.post(
    '/api/v1/me/passkeys',
    {
      config: sessionAccount,
      schema: {
        tags: ['account'],
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: PASSKEY_NAME_MAX }), response: WebAuthnJson },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            passkey: PasskeyShape,
            recovery_codes: Type.Union([Type.Array(Type.String()), Type.Null()]),
          }),
        },
      },
    },
    async (req, reply) => {
      const user = userOf(req);
      const p = principalOf(req);
      // Checked again: the options were issued under a step-up that may have lapsed since.
      await requireStepUp(deps, p);
      const name = req.body.name.trim().replace(/[\u0000-\u001f\u007f]/g, '');
      if (!name) throw new ApiError('invalid_request', 'Name the passkey.');
      const key = await registerPasskey(
        deps,
        { id: user.id, sessionId: p.sessionId! },
        { name, response: req.body.response as unknown as RegistrationResponseJSON },
      );
      if (!key) throw new ApiError('invalid_request', 'The passkey could not be verified. Start again.');
      forgetMfaMemo(deps, { userId: user.id });
      const codes = await db.transaction().execute(async (trx) => {
        const fresh =
          (await remainingRecoveryCodes(trx, user.id)) === 0
            ? await regenerateRecoveryCodes(trx, clock, user.id)
            : null;
        await audit(trx, clock, actorOf(req), {
          orgId: null,
          action: 'user.passkey_added',
          target: `user:${user.id}`,
          data: { passkey_id: key.id, name: key.name },
        });
        return fresh;
      });
      // Creating it needed user verification on the authenticator: a proof of it in this session.
      if (p.sessionId) await recordSecondFactor(db, clock, p.sessionId, 'hwk');
      return reply.code(201).send({
        passkey: {
          id: key.id,
          name: key.name,
          created_at: key.created_at.toISOString(),
          last_used_at: null,
          backed_up: key.backed_up,
        },
        recovery_codes: codes,
      });
    },
  );

  app.delete(
    '/api/v1/me/passkeys/:id',
    {
      config: sessionAccount,
      schema: { tags: ['account'], params: IdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const user = userOf(req);
      await requireStepUp(deps, principalOf(req));
      const mine = await ownPasskey(db, user.id, req.params.id);
      if (!mine) throw new ApiError('not_found', 'No such passkey.');
      const last = await keepRequiredFactor(db, user.id, 'passkey');
      await db.transaction().execute(async (trx) => {
        await deletePasskey(trx, user.id, mine.id);
        if (last) await removeRecoveryCodes(trx, user.id);
        await audit(trx, clock, actorOf(req), {
          orgId: null,
          action: 'user.passkey_removed',
          target: `user:${user.id}`,
          data: { passkey_id: mine.id },
        });
      });
      forgetMfaMemo(deps, { userId: user.id });
      return reply.code(204).send(null);
    },
  );
}
