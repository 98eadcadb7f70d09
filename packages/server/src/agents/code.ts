import { randomInt } from 'node:crypto';
import { safeEqual, sha256Hex } from '../lib/secrets.js';
import { CODE_DIGITS } from './limits.js';

/** A uniformly random 6-digit code, leading zeros kept. */
export function newCode(): string {
  return String(randomInt(0, 10 ** CODE_DIGITS)).padStart(CODE_DIGITS, '0');
}

export const CODE_RE = new RegExp(`^[0-9]{${CODE_DIGITS}}$`);

/**
 * The stored form of a code: SHA-256, salted with the agent id so equal codes of two agents differ.
 * A 6-digit code has too little entropy for a hash to resist an offline search: what protects it
 * is the attempt limit and the expiry, checked under a row lock.
 */
export function codeHash(agentId: string, code: string): string {
  return sha256Hex(`latchkey-agent-code:${agentId}:${code}`);
}

/** Constant-time comparison of a presented code with the stored hash. */
export function codeMatches(agentId: string, code: string, stored: string | null): boolean {
  return stored !== null && safeEqual(codeHash(agentId, code), stored);
}
