import type { Actor } from '../auth/principal.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { sendEmailVerification } from './email-verification.js';
import { emailOrThrow, limit } from './input.js';
import type { AccountLimiters } from './limits.js';
import { checkPassword, hashPassword, PASSWORD_PROBLEM_TEXT } from './passwords.js';
import { signIn } from './signin.js';
import { SignupRefused } from './signup-policy.js';
import { cleanName } from '../lib/names.js';
import { createAccount, findUserByEmail } from './users.js';
import { isUniqueViolation } from '../db/errors.js';
import { joinWaitlist } from './waitlist.js';

export type SignupOutcome =
  | {
      kind: 'created';
      user: { id: string; email: string; name: string };
      org: { id: string; slug: string; name: string };
      /** The new session's cookie value. */
      token: string;
    }
  | { kind: 'waitlisted' };

const TAKEN = 'An account with this email exists.';

/**
 * A sign-up with email and password, for the API and the `/create-account` page alike: checks
 * the input (400 `invalid_request` / `weak_password`), the per-IP budget (429) and the address
 * (409 `email_taken`), then creates the account with its personal org and signs it in, or, under
 * the `waitlist` policy, records a request instead (`invite-only`: 403 `signup_closed`). The new
 * account has not proven its address: a verification link is mailed to it.
 */
export async function passwordSignup(
  deps: Pick<Deps, 'db' | 'clock' | 'config' | 'mailer'>,
  limits: AccountLimiters,
  who: Actor & { ip: string },
  input: { email: string; name: string; password: string },
  log: { error(obj: object, msg: string): void },
): Promise<SignupOutcome> {
  const { db, clock } = deps;
  const email = emailOrThrow(input.email);
  const name = cleanName(input.name);
  if (name.length === 0) throw new ApiError('invalid_request', 'The name must not be empty.');
  const problem = checkPassword(input.password);
  if (problem)
    throw new ApiError('weak_password', PASSWORD_PROBLEM_TEXT[problem], { extra: { reason: problem } });
  await limit(limits.signupsPerIp, who.ip);
  if (await findUserByEmail(db, email)) throw new ApiError('email_taken', TAKEN);
  const passwordHash = await hashPassword(input.password);
  let out: SignupOutcome;
  try {
    out = await db.transaction().execute(async (trx): Promise<SignupOutcome> => {
      let acct: Awaited<ReturnType<typeof createAccount>>;
      try {
        acct = await createAccount(trx, clock, who, {
          email,
          name,
          passwordHash,
          emailVerified: false,
          via: 'password',
        });
      } catch (err) {
        if (!(err instanceof SignupRefused && err.policy === 'waitlist')) throw err;
        await joinWaitlist(trx, clock, who, { email, name, via: 'password' });
        return { kind: 'waitlisted' };
      }
      const s = await signIn(trx, clock, who, {
        userId: acct.user.id,
        orgId: acct.org.id,
        method: 'password',
      });
      return { kind: 'created', user: acct.user, org: acct.org, token: s.token };
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ApiError('email_taken', TAKEN);
    throw err;
  }
  // The address is unproven until the link mailed to it is used.
  if (out.kind === 'created') await sendEmailVerification(deps, out.user, log);
  return out;
}
