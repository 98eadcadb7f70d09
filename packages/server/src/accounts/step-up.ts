/**
 * Step-up: sensitive account actions (a new passkey, disabling two-factor sign-in, new recovery
 * codes, changing the email address, deleting the account) ask for the second factor again when
 * the session's last proof of it is older than 10 minutes. An account without a second factor
 * has nothing to re-prove. A credential other than a browser session cannot re-prove, so for an
 * account with a factor it is refused.
 *
 * Re-proving: `POST /api/v1/me/step-up` (TOTP or recovery code), or
 * `POST /api/v1/me/step-up/passkey-options` then `POST /api/v1/me/step-up/passkey`; the
 * server-rendered `/login/second-factor?step_up=1` does the same in a browser.
 */
import type { Deps } from '../deps.js';
import type { Principal } from '../auth/principal.js';
import { ApiError } from '../errors.js';
import { MINUTE } from '../lib/clock.js';
import { factorsOf, hasFactor, methodsOf } from './mfa/factors.js';
import { sessionAuthInfo } from './sessions.js';

/** How long a second-factor proof lets sensitive actions through. */
export const STEP_UP_WINDOW_MS = 10 * MINUTE;

export const STEP_UP = {
  api: '/api/v1/me/step-up',
  passkeyOptions: '/api/v1/me/step-up/passkey-options',
  passkey: '/api/v1/me/step-up/passkey',
  page: '/login/second-factor?step_up=1',
} as const;

/**
 * Throws 403 `step_up_required` (naming how to re-prove) unless the account has no second factor
 * or this browser session proved one within the last 10 minutes. Call it before the change.
 */
export async function requireStepUp(deps: Pick<Deps, 'db' | 'clock'>, principal: Principal): Promise<void> {
  if (!principal.user) throw new ApiError('forbidden', 'This needs a credential that acts as a person.');
  const factors = await factorsOf(deps.db, principal.user.id);
  if (!hasFactor(factors)) return;
  const info =
    principal.kind === 'session' && principal.sessionId
      ? await sessionAuthInfo(deps.db, deps.clock, principal.sessionId)
      : null;
  if (info?.mfaAt && deps.clock.now().getTime() - info.mfaAt.getTime() <= STEP_UP_WINDOW_MS) return;
  throw new ApiError(
    'step_up_required',
    principal.kind === 'session'
      ? 'Prove your second factor again to do this.'
      : 'This needs a browser session that proved its second factor in the last 10 minutes.',
    {
      extra: {
        methods: methodsOf(factors),
        step_up_url: STEP_UP.api,
        passkey_options_url: STEP_UP.passkeyOptions,
        page: STEP_UP.page,
      },
    },
  );
}
