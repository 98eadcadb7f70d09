import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { COMMON_PASSWORDS } from './common-passwords.js';

/** OWASP's Argon2id recommendation: m = 19 MiB, t = 2, p = 1. */
const ARGON2 = {
  algorithm: 2 as Algorithm.Argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export const PASSWORD_MIN_LENGTH = 10;
/** Bounded so that hashing cost cannot be driven up with huge inputs. */
export const PASSWORD_MAX_LENGTH = 256;

/** The bundled breached-password list, as a set. Compared case-insensitively. */
const COMMON = new Set(COMMON_PASSWORDS.split('\n'));

export type PasswordProblem = 'too_short' | 'too_long' | 'common';

export function checkPassword(pw: string): PasswordProblem | null {
  if ([...pw].length < PASSWORD_MIN_LENGTH) return 'too_short';
  if (pw.length > PASSWORD_MAX_LENGTH) return 'too_long';
  if (COMMON.has(pw.toLowerCase())) return 'common';
  return null;
}

export const PASSWORD_PROBLEM_TEXT: Record<PasswordProblem, string> = {
  too_short: `The password must be at least ${PASSWORD_MIN_LENGTH} characters.`,
  too_long: `The password must be at most ${PASSWORD_MAX_LENGTH} characters.`,
  common: 'This password appears in lists of breached passwords; choose another.',
};

export function hashPassword(pw: string): Promise<string> {
  return hash(pw, ARGON2);
}

/** A hash of a random password: verified against when the account does not exist, so timing matches. */
let dummy: Promise<string> | null = null;

export async function verifyPassword(hashed: string | null, pw: string): Promise<boolean> {
  if (hashed === null) {
    dummy ??= hashPassword(`dummy-${Math.random()}-${Date.now()}`);
    await verify(await dummy, pw).catch(() => false);
    return false;
  }
  try {
    return await verify(hashed, pw);
  } catch {
    return false;
  }
}
