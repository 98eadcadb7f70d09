import type { Executor } from '../../db/executor.js';

/** The second factors an account has: a confirmed TOTP secret, passkeys, unused recovery codes. */
export interface Factors {
  totp: boolean;
  passkeys: number;
  recoveryCodes: number;
}

export async function factorsOf(db: Executor, userId: string): Promise<Factors> {
  const row = await db
    .selectNoFrom((eb) => [
      eb
        .exists(
          eb
            .selectFrom('totp_factors')
            .select('user_id')
            .where('user_id', '=', userId)
            .where('confirmed_at', 'is not', null),
        )
        .as('totp'),
      eb
        .selectFrom('passkeys')
        .select(eb.fn.countAll<string>().as('n'))
        .where('user_id', '=', userId)
        .as('passkeys'),
      eb
        .selectFrom('recovery_codes')
        .select(eb.fn.countAll<string>().as('n'))
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .as('recovery'),
    ])
    .executeTakeFirstOrThrow();
  return { totp: Boolean(row.totp), passkeys: Number(row.passkeys), recoveryCodes: Number(row.recovery) };
}

/** Whether the account has a second factor: TOTP or a passkey (recovery codes only back one up). */
export function hasFactor(f: Factors): boolean {
  return f.totp || f.passkeys > 0;
}

/** The ways a second factor can be proven at sign-in, for clients to offer. */
export function methodsOf(f: Factors): ('totp' | 'recovery_code' | 'passkey')[] {
  const out: ('totp' | 'recovery_code' | 'passkey')[] = [];
  if (f.totp) out.push('totp');
  if (f.passkeys > 0) out.push('passkey');
  if (hasFactor(f) && f.recoveryCodes > 0) out.push('recovery_code');
  return out;
}
