import { type Algorithm, hash, verify } from '@node-rs/argon2';

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

/**
 * A small built-in list of common passwords that meet the length rule. Compared case-insensitively.
 * (Short ones are already refused by the length rule.)
 */
const COMMON = new Set([
  '1234567890',
  '0123456789',
  '12345678910',
  '123456789a',
  'a123456789',
  '1q2w3e4r5t',
  '1qaz2wsx3edc',
  'qwertyuiop',
  'qwerty1234',
  'qwerty12345',
  'qwertyuiop1',
  'asdfghjkl1',
  'zxcvbnm123',
  'password12',
  'password123',
  'password1234',
  'password!1',
  'passw0rd123',
  'p@ssw0rd123',
  'p@ssword123',
  'iloveyou12',
  'iloveyou123',
  'letmein123',
  'welcome123',
  'welcome1234',
  'admin12345',
  'admin123456',
  'administrator',
  'changeme123',
  'football123',
  'baseball123',
  'basketball',
  'sunshine123',
  'princess123',
  'monkey12345',
  'dragon12345',
  'master12345',
  'superman123',
  'trustno1234',
  'starwars123',
  'whatever123',
  'qazwsxedc123',
  'abc1234567',
  'abcdefghij',
  'abcd123456',
  'aaaaaaaaaa',
  '1111111111',
  '0000000000',
  '9876543210',
  '1234512345',
  '1122334455',
  '123123123123',
  '1234qwer!@#$',
  'michael123',
  'jennifer123',
  'charlie123',
  'computer123',
  'internet123',
  'secret1234',
  'mypassword',
  'mypassword1',
  'mypassword123',
  'thisisapassword',
  'letmeinplease',
  'correcthorsebatterystaple',
  'qwerty123456',
  'q1w2e3r4t5',
  'q1w2e3r4t5y6',
  'zaq12wsxcde3',
  'passwordpassword',
  'password1!',
  'latchkey123',
  'latchkey1234',
  'helloworld',
  'helloworld1',
  'hello12345',
  'freedom123',
  'shadow12345',
  'killer12345',
  'pokemon123',
  'samsung123',
  'loveyou123',
]);

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
  common: 'This password is too common; choose another.',
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
