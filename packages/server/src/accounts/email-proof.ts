import type { Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import type { AuthChange } from '../auth/credential-cache.js';
import type { Clock } from '../lib/clock.js';

/** How an address was proven: each one is a secret that reached the mailbox, or a provider's word. */
export type ProofMethod = 'magic_link' | 'verification_link' | 'provider' | 'sso' | 'invitation';

export interface ProofOptions {
  /**
   * The prover is signed in as this very account while presenting the proof (a session of it, or
   * its password given on the same form): the account's credentials are the prover's own, so
   * nothing is revoked. Without it, whoever made the account may not own the address.
   */
  holder?: boolean;
}

export interface EmailProof {
  userId: string;
  /** Token hashes of every credential ended: sessions, personal and other API tokens, OAuth tokens. */
  revoked: string[];
  /** The account's password was cleared. */
  passwordCleared: boolean;
}

/**
 * An address was proven on `user`. When the account never proved it before, whoever made the
 * account may not own the address (a sign-up made in someone else's name, waiting for them):
 * unless the prover holds the account already (`opts.holder`), every credential created before
 * ends first — sessions, personal access tokens and the API tokens the person minted, the
 * password, OAuth grants with their access and refresh tokens, pending codes and approved device
 * codes, the browsers known to it — then the address is marked verified, audited as `user.email_verified`, all in `trx`.
 *
 * Returns null when the address was already verified (nothing changes). After the transaction
 * commits, pass the result to `proofChanges` and announce each change (`deps.auth.changed`), so
 * no node keeps serving a revoked credential from its cache.
 *
 * Does not check that the proof itself is genuine: the caller consumed the link, or trusted the
 * provider, before calling.
 */
export async function proveEmail(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  user: { id: string; password_hash: string | null; email_verified_at: Date | null },
  by: ProofMethod,
  opts: ProofOptions = {},
): Promise<EmailProof | null> {
  if (user.email_verified_at) return null;
  const now = clock.now();
  // Only the first proof of a never-verified account acts: a racing second one finds it done.
  const marked = await trx
    .updateTable('users')
    .set({
      email_verified_at: now,
      updated_at: now,
      ...(opts.holder ? {} : { password_hash: null }),
    })
    .where('id', '=', user.id)
    .where('email_verified_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (!marked) return null;

  if (opts.holder) {
    await audit(trx, clock, who, {
      orgId: null,
      action: 'user.email_verified',
      target: `user:${user.id}`,
      data: { by, password_cleared: false, revoked_sessions: 0, revoked_tokens: [], revoked_grants: 0 },
    });
    return { userId: user.id, revoked: [], passwordCleared: false };
  }

  const sessions = await trx
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('user_id', '=', user.id)
    .where('revoked_at', 'is', null)
    .returning('token_hash')
    .execute();
  // Personal tokens, and every API token the person minted (service tokens, org keys).
  const apiTokens = await trx
    .updateTable('api_tokens')
    .set({ revoked_at: now, revoked_reason: `email_proven_by_${by}` })
    .where((eb) => eb.or([eb('user_id', '=', user.id), eb('created_by_user', '=', user.id)]))
    .where('revoked_at', 'is', null)
    .returning(['token_hash', 'prefix'])
    .execute();
  const grants = await trx
    .updateTable('oauth_grants')
    .set({ revoked_at: now })
    .where('user_id', '=', user.id)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  // Every family the person holds (each came from one of the grants above, device flow included;
  // revoked by person, so none is missed whatever state its grant is in).
  const oauthTokens = await trx
    .updateTable('oauth_tokens')
    .set({ revoked_at: now })
    .where('user_id', '=', user.id)
    .where('revoked_at', 'is', null)
    .returning(['token_hash', 'prefix'])
    .execute();
  await trx
    .updateTable('oauth_codes')
    .set({ consumed_at: now })
    .where('user_id', '=', user.id)
    .where('consumed_at', 'is', null)
    .execute();
  await trx
    .updateTable('oauth_device_codes')
    .set({ status: 'denied' })
    .where('user_id', '=', user.id)
    .where('status', '=', 'approved')
    .execute();

  // Browsers its maker signed in from no longer count as the owner's.
  await trx.deleteFrom('trusted_devices').where('user_id', '=', user.id).execute();

  const passwordCleared = user.password_hash !== null;
  await audit(trx, clock, who, {
    orgId: null,
    action: 'user.email_verified',
    target: `user:${user.id}`,
    data: {
      by,
      password_cleared: passwordCleared,
      revoked_sessions: sessions.length,
      revoked_tokens: [...apiTokens, ...oauthTokens].map((t) => t.prefix),
      revoked_grants: grants.length,
    },
  });
  return {
    userId: user.id,
    revoked: [...sessions, ...apiTokens, ...oauthTokens].map((r) => r.token_hash),
    passwordCleared,
  };
}

/** The cache changes a proof calls for, to announce after its transaction commits. */
export function proofChanges(proof: EmailProof | null): AuthChange[] {
  if (!proof) return [];
  return [{ user: proof.userId }, ...proof.revoked.map((token) => ({ token }))];
}
