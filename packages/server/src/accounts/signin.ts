import type { Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import { ApiError } from '../errors.js';
import { addMs, type Clock } from '../lib/clock.js';
import { newId, newSecret, sha256Hex } from '../lib/secrets.js';
import { enforcingOrgOf } from '../orgs/sso-enforcement.js';
import { isDisabled } from './disable.js';
import { factorsOf, hasFactor } from './mfa/factors.js';
import { mfaRequiringOrgOf } from './mfa/org-policy.js';
import { type Amr, type PendingState, PENDING_SESSION_PREFIX, PENDING_SESSION_TTL_MS } from './sessions.js';
import { SESSION_TTL_MS } from '../auth/session-cookie.js';

/**
 * How a person proved who they are, as recorded in the audit log. `password_change`: the fresh
 * session a password change hands out (the person proved the current password, or held a session).
 * `passkey`: a discoverable passkey with user verification (passwordless).
 */
export type SigninMethod =
  'password' | 'password_change' | 'magic_link' | 'github' | 'google' | 'sso' | 'passkey';

/** The RFC 8176 `amr` values a first factor contributes. */
const FIRST_FACTOR_AMR: Record<SigninMethod, readonly Amr[]> = {
  password: ['pwd'],
  password_change: ['pwd'],
  magic_link: ['email'],
  github: ['fed'],
  google: ['fed'],
  sso: ['fed'],
  // A passkey with user verification is possession plus a PIN or biometric: two factors at once.
  passkey: ['hwk', 'mfa'],
};

/**
 * The refusal when an org enforces single sign-on over the person: names the org and where its
 * sign-in starts (`sso_url`).
 */
export function ssoRequired(org: { slug: string; name: string }): ApiError {
  return new ApiError('sso_required', `Members of ${org.name} sign in with single sign-on.`, {
    extra: { org: org.slug, sso_url: `/api/sso/start?org=${encodeURIComponent(org.slug)}` },
  });
}

/**
 * Creates a session row; returns the cookie value (shown once) and the row id. Only its hash is
 * stored. A pending session (waiting for a second factor or an enrolment) lives minutes, and its
 * value carries a prefix so the server can send its browser to the second-factor page without a
 * lookup; it is never a credential (`findSession` ignores it). Not exported beyond this folder's
 * sign-in functions: every session begins in `signIn` or `completeSignIn`.
 */
export async function insertSession(
  trx: Transaction<Database>,
  clock: Clock,
  s: {
    userId: string;
    orgId: string | null;
    /** The org whose single sign-on proved the person; null for every other method. */
    ssoOrgId: string | null;
    ip: string | null;
    userAgent: string | null;
    amr: readonly Amr[];
    mfaAt: Date | null;
    pending: PendingState | null;
  },
) {
  const token = s.pending ? `${PENDING_SESSION_PREFIX}${newSecret()}` : newSecret();
  const id = newId();
  const now = clock.now();
  const expiresAt = addMs(now, s.pending ? PENDING_SESSION_TTL_MS : SESSION_TTL_MS);
  await trx
    .insertInto('sessions')
    .values({
      id,
      token_hash: sha256Hex(token),
      user_id: s.userId,
      org_id: s.orgId,
      sso_org_id: s.ssoOrgId,
      ip: s.ip,
      user_agent: s.userAgent?.slice(0, 512) ?? null,
      created_at: now,
      last_seen_at: now,
      expires_at: expiresAt,
      amr: [...new Set(s.amr)].join(' '),
      mfa_at: s.mfaAt,
      pending: s.pending,
    })
    .execute();
  return { id, token, expiresAt, pending: s.pending };
}

/**
 * What a first-factor sign-in leads to: a session, or a pending one when the account has a
 * second factor to prove, or must enrol one because an org it belongs to requires it.
 */
async function pendingStateOf(
  trx: Transaction<Database>,
  userId: string,
  method: SigninMethod,
): Promise<PendingState | null> {
  // A passkey already proved two factors; a password change continues a session that had.
  if (method === 'passkey' || method === 'password_change') return null;
  if (hasFactor(await factorsOf(trx, userId))) return 'second_factor';
  return (await mfaRequiringOrgOf(trx, userId)) ? 'enrol' : null;
}

/**
 * Signs a person in after their first factor: a new session (starting in `orgId`) and its
 * `user.signin` audit event, in the caller's transaction. Returns the session; its `token` goes
 * into the cookie.
 *
 * When the account has a second factor, or must enrol one, the session is pending (`pending` is
 * set): it authenticates nothing, and the browser is sent to `/login/second-factor`, where
 * `completeSignIn` replaces it with a real one.
 *
 * The one place SSO enforcement is checked at sign-in: a member of an org that enforces SSO signs
 * in only by `sso`; any other method throws `sso_required` (naming where to go) and nothing is
 * written. For `sso`, `orgId` is the org whose IdP answered: the session records it
 * (`sso_org_id`), which is what lets it accept an invitation to that org (`acceptInvitation`).
 */
export async function signIn(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  s: { userId: string; orgId: string | null; method: SigninMethod },
) {
  // An instance admin disabled this account: no way of proving who one is opens a session.
  if (await isDisabled(trx, s.userId)) {
    throw new ApiError('account_disabled', 'This account is disabled. Ask the instance administrator.');
  }
  if (s.method !== 'sso') {
    const org = await enforcingOrgOf(trx, s.userId);
    if (org) throw ssoRequired(org);
  }
  const pending = await pendingStateOf(trx, s.userId, s.method);
  const amr = FIRST_FACTOR_AMR[s.method];
  const session = await insertSession(trx, clock, {
    userId: s.userId,
    orgId: s.orgId,
    ssoOrgId: s.method === 'sso' ? s.orgId : null,
    ip: who.ip,
    userAgent: who.userAgent,
    amr,
    mfaAt: s.method === 'passkey' ? clock.now() : null,
    pending,
  });
  await audit(
    trx,
    clock,
    { ...who, actor: `user:${s.userId}` },
    {
      orgId: null,
      action: pending ? 'user.signin_pending' : 'user.signin',
      target: `user:${s.userId}`,
      data: { method: s.method, session_id: session.id, amr: [...amr], ...(pending ? { pending } : {}) },
    },
  );
  return session;
}

/**
 * Finishes a pending sign-in once the second factor is proven (or a first one enrolled): the
 * pending session ends and a real one begins, with the first factor's `amr`, the second's, and
 * `mfa`. Returns null when the pending session is gone (expired, used, or revoked) — consumed
 * atomically, so two completions of one pending session yield one session.
 */
export async function completeSignIn(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  c: {
    pendingSessionId: string;
    proof: 'otp' | 'hwk';
    via: 'totp' | 'recovery_code' | 'passkey' | 'enrolment';
  },
) {
  const now = clock.now();
  const row = await trx
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('id', '=', c.pendingSessionId)
    .where('pending', 'is not', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['user_id', 'org_id', 'sso_org_id', 'amr'])
    .executeTakeFirst();
  if (!row) return null;
  const amr = [...(row.amr.split(' ').filter(Boolean) as Amr[]), c.proof, 'mfa' as const];
  const session = await insertSession(trx, clock, {
    userId: row.user_id,
    orgId: row.org_id,
    ssoOrgId: row.sso_org_id,
    ip: who.ip,
    userAgent: who.userAgent,
    amr,
    mfaAt: now,
    pending: null,
  });
  await audit(
    trx,
    clock,
    { ...who, actor: `user:${row.user_id}` },
    {
      orgId: null,
      action: 'user.signin',
      target: `user:${row.user_id}`,
      data: { method: 'second_factor', second_factor: c.via, session_id: session.id, amr: [...new Set(amr)] },
    },
  );
  return { ...session, userId: row.user_id, orgId: row.org_id };
}
