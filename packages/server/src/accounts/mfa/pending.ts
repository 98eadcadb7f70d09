/**
 * Finishing a sign-in that waits for its second factor (or for the enrolment an org requires):
 * the proofs a pending session accepts, counted against a per-account failure budget and audited.
 * Shared by the API (`routes.ts`) and the server-rendered page (`pages.ts`).
 */
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { Logger } from 'pino';
import { type Actor } from '../../auth/principal.js';
import { audit } from '../../audit/log.js';
import type { Deps } from '../../deps.js';
import { ApiError, rateLimited } from '../../errors.js';
import { notifyNewDevice, signedInFromDevice } from '../new-device.js';
import { completeSignIn } from '../signin.js';
import type { PendingSession } from '../sessions.js';
import { forgetMfaMemo } from './org-policy.js';
import { verifyPasskeyAssertion } from './passkeys.js';
import { regenerateRecoveryCodes, remainingRecoveryCodes, useRecoveryCode } from './recovery.js';
import { confirmTotp, verifyTotp } from './totp.js';
import { totpStore } from './totp-store.js';

/** Wrong second-factor codes an account may send per window, across all its sign-ins and step-ups. */
export const SECOND_FACTOR_FAILURES = { points: 10, windowSeconds: 15 * 60 } as const;

type MfaDeps = Pick<Deps, 'db' | 'clock' | 'cache' | 'config' | 'auth' | 'mailer'>;

/** The browser finishing a sign-in: its device cookie, and where an unsent mail is logged. */
export interface FinishingBrowser {
  device: string | undefined;
  log: Pick<Logger, 'warn'>;
}

export function failureLimiter(deps: Pick<Deps, 'cache'>) {
  return deps.cache.limiter({ name: 'mfa:failures', ...SECOND_FACTOR_FAILURES });
}

/**
 * Checks a TOTP or recovery code for `userId` within its failure budget. Throws `rate_limited`
 * when over budget, `invalid_code` (audited, counted) when wrong.
 */
export async function proveCode(
  deps: MfaDeps,
  who: Actor,
  c: { userId: string; method: 'totp' | 'recovery_code'; code: string; purpose: 'signin' | 'step_up' },
): Promise<void> {
  const limiter = failureLimiter(deps);
  const budget = await limiter.check(c.userId);
  if (!budget.allowed) throw rateLimited(budget.retryAfterSeconds, 'Too many wrong codes; try again later.');
  const ok =
    c.code.length <= 64 &&
    (c.method === 'totp'
      ? await verifyTotp(totpStore(deps), c.userId, c.code)
      : await useRecoveryCode(deps.db, deps.clock, c.userId, c.code));
  if (ok) return;
  await limiter.consume(c.userId);
  await audit(
    deps.db,
    deps.clock,
    { ...who, actor: `user:${c.userId}` },
    {
      orgId: null,
      action: 'user.second_factor_failed',
      target: `user:${c.userId}`,
      data: { method: c.method, purpose: c.purpose },
    },
  );
  throw new ApiError(
    'invalid_code',
    c.method === 'totp'
      ? 'The code is wrong, expired or already used. Enter the current code from your authenticator app.'
      : 'The recovery code is wrong or already used.',
  );
}

/**
 * Turns a pending session into a real one; throws `second_factor_required` when it is gone. Only
 * now does the browser count as signed in from: a new one is audited and mailed about.
 */
async function complete(
  deps: MfaDeps,
  who: Actor,
  pending: PendingSession,
  proof: 'otp' | 'hwk',
  via: 'totp' | 'recovery_code' | 'passkey' | 'enrolment',
  browser: FinishingBrowser,
) {
  const out = await deps.db.transaction().execute(async (trx) => {
    const s = await completeSignIn(trx, deps.clock, who, { pendingSessionId: pending.id, proof, via });
    if (!s) return null;
    const news = await signedInFromDevice(trx, deps.clock, who, {
      userId: s.userId,
      // As `user.signin` names a completed sign-in.
      method: 'second_factor',
      device: browser.device,
    });
    return { s, news };
  });
  if (!out) throw expired();
  await notifyNewDevice(deps, out.news, browser.log);
  return out.s;
}

export function expired(): ApiError {
  return new ApiError('second_factor_required', 'The sign-in expired. Sign in again.', {
    extra: { login_url: '/login' },
  });
}

/** Second factor by code. */
export async function finishWithCode(
  deps: MfaDeps,
  who: Actor,
  pending: PendingSession,
  c: { method: 'totp' | 'recovery_code'; code: string },
  browser: FinishingBrowser,
) {
  if (pending.pending !== 'second_factor')
    throw new ApiError('invalid_request', 'This sign-in needs a second factor enrolled first.');
  await proveCode(deps, who, { userId: pending.userId, ...c, purpose: 'signin' });
  const s = await complete(deps, who, pending, 'otp', c.method, browser);
  const remaining =
    c.method === 'recovery_code' ? await remainingRecoveryCodes(deps.db, pending.userId) : null;
  return { session: s, recoveryCodesLeft: remaining };
}

/** Second factor by passkey (an assertion answering the challenge issued to this pending session). */
export async function finishWithPasskey(
  deps: MfaDeps,
  who: Actor,
  pending: PendingSession,
  response: AuthenticationResponseJSON,
  browser: FinishingBrowser,
) {
  if (pending.pending !== 'second_factor')
    throw new ApiError('invalid_request', 'This sign-in needs a second factor enrolled first.');
  const ok = await verifyPasskeyAssertion(
    deps,
    'second_factor',
    { userId: pending.userId, sessionId: pending.id },
    response,
  );
  if (!ok) {
    await audit(
      deps.db,
      deps.clock,
      { ...who, actor: `user:${pending.userId}` },
      {
        orgId: null,
        action: 'user.second_factor_failed',
        target: `user:${pending.userId}`,
        data: { method: 'passkey', purpose: 'signin' },
      },
    );
    throw new ApiError('invalid_credentials', 'The passkey was not accepted. Try again.');
  }
  return { session: await complete(deps, who, pending, 'hwk', 'passkey', browser) };
}

/**
 * Enrolment during sign-in (an org requires a factor): the code confirms the new TOTP secret, the
 * account gets recovery codes, and the sign-in completes. Returns the codes (shown once).
 */
export async function finishWithEnrolment(
  deps: MfaDeps,
  who: Actor,
  pending: PendingSession,
  code: string,
  browser: FinishingBrowser,
) {
  if (pending.pending !== 'enrol') throw new ApiError('invalid_request', 'This sign-in is not an enrolment.');
  const limiter = failureLimiter(deps);
  const budget = await limiter.check(pending.userId);
  if (!budget.allowed) throw rateLimited(budget.retryAfterSeconds, 'Too many wrong codes; try again later.');
  if (code.length > 64 || !(await confirmTotp(totpStore(deps), pending.userId, code))) {
    await limiter.consume(pending.userId);
    throw new ApiError(
      'invalid_code',
      'The code does not match. Scan the QR code again and enter the current code.',
    );
  }
  forgetMfaMemo(deps, { userId: pending.userId });
  const codes = await deps.db.transaction().execute(async (trx) => {
    const fresh = await regenerateRecoveryCodes(trx, deps.clock, pending.userId);
    await audit(
      trx,
      deps.clock,
      { ...who, actor: `user:${pending.userId}` },
      {
        orgId: null,
        action: 'user.totp_enabled',
        target: `user:${pending.userId}`,
        data: { during: 'signin' },
      },
    );
    return fresh;
  });
  const s = await complete(deps, who, pending, 'otp', 'enrolment', browser);
  return { session: s, recoveryCodes: codes };
}
