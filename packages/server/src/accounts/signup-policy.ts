import type { Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import { SIGNUP_POLICIES, type SignupPolicy } from '../config/index.js';
import type { Db } from '../db/connection.js';
import type { Database } from '../db/schema.js';
import { ApiError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import { sha256Hex } from '../lib/secrets.js';
import { consumeApprovalByEmail, consumeApprovalByToken } from './waitlist.js';
import type { Executor } from '../db/executor.js';

export { SIGNUP_POLICIES, type SignupPolicy };

/** The `instance_settings` row that holds the policy. */
const SETTING = 'signup_policy';

/**
 * Why an account may be created whatever the policy, vouched for by the caller:
 * - `setup`: the first owner, made by `/setup`;
 * - `invitation`: the person follows an invitation link (its token, for this email);
 * - `sso`: the person signed in through their org's SSO connection;
 * - `approval`: the person follows the link an operator's waitlist approval mailed them.
 */
export type Admission =
  | { kind: 'setup' }
  | { kind: 'invitation'; token: string }
  | { kind: 'sso'; orgId: string }
  | { kind: 'approval'; token: string };

/** What let an account in, as recorded on its `user.signup` audit event. */
export type AdmittedBy = 'open' | Admission['kind'];

/**
 * The policy said no. Under `waitlist` the caller may record a request instead (`joinWaitlist`)
 * and answer 202; anything that does not is answered 403 `signup_closed`.
 */
export class SignupRefused extends ApiError {
  constructor(readonly policy: Exclude<SignupPolicy, 'open'>) {
    super(
      'signup_closed',
      policy === 'waitlist'
        ? 'New accounts need an operator’s approval; ask to join the waitlist.'
        : 'New accounts are by invitation only.',
      { extra: { policy } },
    );
    this.name = 'SignupRefused';
  }
}

function isPolicy(v: unknown): v is SignupPolicy {
  return typeof v === 'string' && (SIGNUP_POLICIES as readonly string[]).includes(v);
}

export interface PolicySetting {
  policy: SignupPolicy;
  updatedAt: Date | null;
  updatedBy: string | null;
}

/** The policy in force. An instance that never stored one is open. */
export async function readSignupPolicy(db: Executor): Promise<PolicySetting> {
  const row = await db
    .selectFrom('instance_settings')
    .select(['value', 'updated_at', 'updated_by'])
    .where('name', '=', SETTING)
    .executeTakeFirst();
  if (!row || !isPolicy(row.value)) return { policy: 'open', updatedAt: null, updatedBy: null };
  return { policy: row.value, updatedAt: row.updated_at, updatedBy: row.updated_by };
}

/**
 * Stores `initial` (from SIGNUP_POLICY) unless a policy is stored already: the configuration
 * gives a new instance its starting policy, and a change an instance admin made later wins.
 * Returns the policy in force.
 */
export async function seedSignupPolicy(db: Db, clock: Clock, initial: SignupPolicy): Promise<SignupPolicy> {
  await db
    .insertInto('instance_settings')
    .values({ name: SETTING, value: initial, updated_at: clock.now(), updated_by: 'config' })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  return (await readSignupPolicy(db)).policy;
}

/** Changes the policy and audits the change (from → to), in the caller's transaction. */
export async function setSignupPolicy(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  policy: SignupPolicy,
): Promise<PolicySetting> {
  const before = await trx
    .selectFrom('instance_settings')
    .select('value')
    .where('name', '=', SETTING)
    .forUpdate()
    .executeTakeFirst();
  const now = clock.now();
  await trx
    .insertInto('instance_settings')
    .values({ name: SETTING, value: policy, updated_at: now, updated_by: who.actor })
    .onConflict((oc) =>
      oc.column('name').doUpdateSet({ value: policy, updated_at: now, updated_by: who.actor }),
    )
    .execute();
  await audit(trx, clock, who, {
    orgId: null,
    action: 'signup_policy.changed',
    target: null,
    data: { from: isPolicy(before?.value) ? before.value : 'open', to: policy },
  });
  return { policy, updatedAt: now, updatedBy: who.actor };
}

/** An invitation to any org, still open, for this email. */
async function hasOpenInvitation(trx: Transaction<Database>, clock: Clock, email: string) {
  const row = await trx
    .selectFrom('invitations')
    .select('id')
    .where('email', '=', email)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', clock.now())
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

async function invitationMatches(trx: Transaction<Database>, clock: Clock, token: string, email: string) {
  const row = await trx
    .selectFrom('invitations')
    .select('email')
    .where('token_hash', '=', sha256Hex(token))
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', clock.now())
    .executeTakeFirst();
  return row?.email === email;
}

export interface SignupCandidate {
  email: string;
  /** The path proved the address (magic link, invitation, a provider's verified email). */
  emailVerified: boolean;
  admission?: Admission;
}

/**
 * The sign-up gate, called by `createAccount` before it writes anything: every way an account
 * is created passes here. Under `invite-only` and `waitlist`, a new account needs an admission,
 * or a proven address that holds an open invitation or an operator's approval (which it uses
 * up). Throws `SignupRefused` having written nothing, so the caller may catch it and carry on in
 * the same transaction. An admission's token is used up even when the policy is `open`.
 */
export async function admitSignup(
  trx: Transaction<Database>,
  clock: Clock,
  c: SignupCandidate,
): Promise<AdmittedBy> {
  const a = c.admission;
  if (a?.kind === 'setup' || a?.kind === 'sso') return a.kind;
  if (a?.kind === 'approval' && (await consumeApprovalByToken(trx, clock, a.token, c.email)))
    return 'approval';
  if (a?.kind === 'invitation' && (await invitationMatches(trx, clock, a.token, c.email)))
    return 'invitation';
  const { policy } = await readSignupPolicy(trx);
  if (policy === 'open') return 'open';
  if (c.emailVerified) {
    if (await hasOpenInvitation(trx, clock, c.email)) return 'invitation';
    if (await consumeApprovalByEmail(trx, clock, c.email)) return 'approval';
  }
  throw new SignupRefused(policy);
}
