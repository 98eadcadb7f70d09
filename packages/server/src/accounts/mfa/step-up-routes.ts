import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { ApiError } from '../../errors.js';
import { actorOf, principalOf, userOf } from '../../http/request.js';
import { Timestamp } from '../../http/shapes.js';
import type { App } from '../../http/types.js';
import { recordSecondFactor, sessionAuthInfo } from '../sessions.js';
import { STEP_UP_WINDOW_MS } from '../step-up.js';
import { proveCode } from './pending.js';
import { passkeyAuthenticationOptions, verifyPasskeyAssertion } from './passkeys.js';
import { Amr, AssertionBody, CodeBody, Options } from './shapes.js';

/** Step-up (`/api/v1/me/step-up*`): a session proves a second factor now, for the changes that ask for a recent one. */
export function stepUpRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;

  // ---- step-up -------------------------------------------------------------------------------

  const StepUpOut = Type.Object({ step_up_until: Timestamp, amr: Amr });
  const stepUpDone = async (sessionId: string, proof: 'otp' | 'hwk') => {
    const at = await recordSecondFactor(db, clock, sessionId, proof);
    if (!at) throw new ApiError('unauthorized');
    const info = await sessionAuthInfo(db, clock, sessionId);
    return { step_up_until: new Date(at.getTime() + STEP_UP_WINDOW_MS).toISOString(), amr: info?.amr ?? [] };
  };
  const stepUpSession = { auth: 'user', credentials: ['session'] } as const;

  app.post(
    '/api/v1/me/step-up',
    { config: stepUpSession, schema: { tags: ['account'], body: CodeBody, response: { 200: StepUpOut } } },
    async (req) => {
      const user = userOf(req);
      const p = principalOf(req);
      await proveCode(deps, actorOf(req), { userId: user.id, ...req.body, purpose: 'step_up' });
      return stepUpDone(p.sessionId!, 'otp');
    },
  );

  app.post(
    '/api/v1/me/step-up/passkey-options',
    { config: stepUpSession, schema: { tags: ['account'], response: { 200: Options } } },
    async (req) => {
      const user = userOf(req);
      return passkeyAuthenticationOptions(deps, 'step_up', {
        userId: user.id,
        sessionId: principalOf(req).sessionId,
      });
    },
  );

  app.post(
    '/api/v1/me/step-up/passkey',
    {
      config: stepUpSession,
      schema: { tags: ['account'], body: AssertionBody, response: { 200: StepUpOut } },
    },
    async (req) => {
      const user = userOf(req);
      const p = principalOf(req);
      const ok = await verifyPasskeyAssertion(
        deps,
        'step_up',
        { userId: user.id, sessionId: p.sessionId },
        req.body.response as unknown as AuthenticationResponseJSON,
      );
      if (!ok) throw new ApiError('invalid_credentials', 'The passkey was not accepted.');
      return stepUpDone(p.sessionId!, 'hwk');
    },
  );
}
