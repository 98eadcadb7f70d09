/**
 * `mfa_required`: an org may require its members to have a second factor. Members without one
 * enrol at their next sign-in (see `signIn`); credentials they already hold keep working in the
 * org for its grace period after the requirement began, then are refused there
 * (`mfa_enrolment_required`) until the member enrols.
 *
 * The check runs on every org-scoped request, so its two facts are memoised per node for at most
 * 30 seconds (like the credential cache): the org's policy, and — only for orgs past their grace
 * period — whether the member has a factor. The node that changes either forgets its entry at once.
 */
import type { Transaction } from 'kysely';
import { type Actor } from '../../auth/principal.js';
import { audit } from '../../audit/log.js';
import type { Database } from '../../db/schema.js';
import type { Deps } from '../../deps.js';
import type { OrgContext, Principal } from '../../auth/principal.js';
import { ApiError } from '../../errors.js';
import { type Clock, DAY } from '../../lib/clock.js';
import { factorsOf, hasFactor } from './factors.js';
import type { Executor } from '../../db/executor.js';

export const MFA_GRACE_DAYS_MAX = 90;
export const MFA_GRACE_DAYS_DEFAULT = 7;
const MEMO_TTL_MS = 30_000;
const MEMO_MAX = 10_000;

/** Where a member without a factor goes to enrol. */
export const ENROL_URL = '/app/account/security';

export interface OrgMfaPolicy {
  required: boolean;
  graceDays: number;
  requiredAt: Date | null;
}

export async function orgMfaPolicy(db: Executor, orgId: string): Promise<OrgMfaPolicy> {
  const row = await db
    .selectFrom('orgs')
    .select(['mfa_required', 'mfa_grace_days', 'mfa_required_at'])
    .where('id', '=', orgId)
    .executeTakeFirstOrThrow();
  return { required: row.mfa_required, graceDays: row.mfa_grace_days, requiredAt: row.mfa_required_at };
}

/** An org the person belongs to that requires a second factor, or null. */
export async function mfaRequiringOrgOf(db: Executor, userId: string) {
  return (
    (await db
      .selectFrom('memberships')
      .innerJoin('orgs', 'orgs.id', 'memberships.org_id')
      .select(['orgs.id', 'orgs.slug', 'orgs.name'])
      .where('memberships.user_id', '=', userId)
      .where('orgs.mfa_required', '=', true)
      .orderBy('orgs.name')
      .executeTakeFirst()) ?? null
  );
}

/**
 * Turns the requirement on or off (and sets the grace period), audited in the same transaction.
 * Turning it on starts the grace period now; changing only the grace period keeps its start.
 */
export async function setOrgMfaPolicy(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  orgId: string,
  next: { required: boolean; graceDays: number },
): Promise<OrgMfaPolicy> {
  const before = await orgMfaPolicy(trx, orgId);
  const requiredAt = next.required ? (before.required ? before.requiredAt : clock.now()) : null;
  await trx
    .updateTable('orgs')
    .set({ mfa_required: next.required, mfa_grace_days: next.graceDays, mfa_required_at: requiredAt })
    .where('id', '=', orgId)
    .execute();
  await audit(trx, clock, who, {
    orgId,
    action: 'org.mfa_policy_changed',
    target: `org:${orgId}`,
    data: {
      mfa_required: next.required,
      grace_days: next.graceDays,
      was_required: before.required,
      was_grace_days: before.graceDays,
    },
  });
  return { required: next.required, graceDays: next.graceDays, requiredAt };
}

/** When credentials of members without a factor stop working in the org (ms), or null. */
export function graceEndsAt(p: OrgMfaPolicy): number | null {
  if (!p.required || !p.requiredAt) return null;
  return p.requiredAt.getTime() + p.graceDays * DAY;
}

interface Memo {
  orgs: Map<string, { policy: OrgMfaPolicy; until: number }>;
  users: Map<string, { has: boolean; until: number }>;
}
const MEMOS = new WeakMap<object, Memo>();

function memoOf(deps: Pick<Deps, 'db'>): Memo {
  let m = MEMOS.get(deps.db);
  if (!m) {
    m = { orgs: new Map(), users: new Map() };
    MEMOS.set(deps.db, m);
  }
  return m;
}

function put<V>(map: Map<string, V>, key: string, value: V) {
  if (map.size >= MEMO_MAX) map.clear();
  map.set(key, value);
}

/** Forget what this node remembers of an org's policy or a person's factors (after a change). */
export function forgetMfaMemo(deps: Pick<Deps, 'db'>, k: { orgId?: string; userId?: string }) {
  const m = memoOf(deps);
  if (k.orgId) m.orgs.delete(k.orgId);
  if (k.userId) m.users.delete(k.userId);
}

/**
 * Whether a credential of `principal` is shut out of `org` by its `mfa_required` policy: a person
 * without a second factor, once the org's grace period is over. Credentials that are no person (org
 * keys, service tokens) and the break-glass token are not affected. Memoised as described above.
 */
export async function orgMfaBlocks(
  deps: Pick<Deps, 'db' | 'clock'>,
  principal: Principal,
  org: Pick<OrgContext, 'id'>,
): Promise<boolean> {
  if (!principal.user || principal.superuser) return false;
  const memo = memoOf(deps);
  const now = deps.clock.now().getTime();
  let o = memo.orgs.get(org.id);
  if (!o || o.until <= now) {
    o = { policy: await orgMfaPolicy(deps.db, org.id), until: now + MEMO_TTL_MS };
    put(memo.orgs, org.id, o);
  }
  const ends = graceEndsAt(o.policy);
  if (ends === null || now < ends) return false;
  let u = memo.users.get(principal.user.id);
  if (!u || u.until <= now) {
    u = { has: hasFactor(await factorsOf(deps.db, principal.user.id)), until: now + MEMO_TTL_MS };
    put(memo.users, principal.user.id, u);
  }
  return !u.has;
}

/**
 * The auth path's check for org-scoped requests: refuses (`mfa_enrolment_required`) what
 * `orgMfaBlocks` shuts out. Introspection asks `orgMfaBlocks` too, so resource servers see the
 * same credentials as inactive.
 */
export async function enforceOrgMfa(
  deps: Pick<Deps, 'db' | 'clock'>,
  principal: Principal,
  org: OrgContext,
): Promise<void> {
  if (!(await orgMfaBlocks(deps, principal, org))) return;
  throw new ApiError(
    'mfa_enrolment_required',
    `${org.name} requires a second factor: add an authenticator app or a passkey to your account.`,
    { extra: { org: org.slug, enrol_url: ENROL_URL } },
  );
}
