import { hash } from 'node:crypto';

/** RFC 7636 §4.1: 43–128 unreserved characters. */
const VERIFIER_RE = /^[A-Za-z0-9._~-]{43,128}$/;
/** An S256 challenge is the base64url SHA-256 of the verifier: exactly 43 characters. */
export const S256_CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;

/** The S256 challenge of a well-formed verifier, or null when the verifier is malformed. */
export function s256(verifier: string): string | null {
  return VERIFIER_RE.test(verifier)
    ? hash('sha256', verifier, 'base64url') // ASCII by the pattern: its UTF-8 is the same bytes
    : null;
}
