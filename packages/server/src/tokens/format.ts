import { hash } from 'node:crypto';
import { randomBytes } from '../lib/secrets.js';
import { crc32 } from 'node:zlib';

/**
 * Latchkey token format: `<prefix>_<kind>_<secret><checksum>`.
 *   secret   – 43 characters drawn uniformly from base62 (256 bits)
 *   checksum – CRC32 of everything before it, in base62, fixed width (6 chars)
 * so that secret scanners can recognise a real token offline, and a typo or a random string is
 * refused before any lookup. At rest only SHA-256 of the whole token is kept.
 *
 * This module depends on nothing but node:crypto and node:zlib, so it can be reused as is.
 */
export const TOKEN_KINDS = ['pat', 'svc', 'org', 'svc_agent', 'at', 'rt', 'scim'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

export const DEFAULT_TOKEN_PREFIX = 'lk';
export const SECRET_CHARS = 43; // ceil(256 / log2(62))
export const CHECKSUM_CHARS = 6; // ceil(32 / log2(62))
/** Display prefix: kind + this many secret characters (e.g. `lk_pat_AbCd1234`). */
export const DISPLAY_SECRET_CHARS = 8;

/** No token is longer than this (whatever the configured prefix); longer strings are refused unread. */
export const MAX_TOKEN_LENGTH = 120;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The largest multiple of 62 a byte can hold: bytes from here up would favour the first characters. */
const UNBIASED_BELOW = 248;

/**
 * `n` characters drawn uniformly from the base62 alphabet: random bytes below 248 (4 × 62), taken
 * modulo 62; the others (3 %) are thrown away, so no character is likelier than another.
 * (Converting 32 bytes through a BigInt did the same in 5 µs; this takes well under one.)
 */
function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n - out.length + 4)) {
      if (b >= UNBIASED_BELOW) continue;
      out += ALPHABET[b % 62];
      if (out.length === n) break;
    }
  }
  return out;
}

/** `base62` of a number below 2^53, without BigInt arithmetic (every token not yet cached has its CRC32 checked). */
function base62Small(n: number, width: number): string {
  let out = '';
  while (n > 0) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out.padStart(width, '0');
}

function checksum(body: string): string {
  return base62Small(crc32(body), CHECKSUM_CHARS);
}

export interface ParsedToken {
  kind: TokenKind;
  /** Display prefix, safe to show and log. */
  display: string;
}

/** Mints a new token of `kind`. Returns the plaintext (shown once), its hash and display prefix. */
export function mintToken(kind: TokenKind, prefix = DEFAULT_TOKEN_PREFIX) {
  const secret = randomBase62(SECRET_CHARS);
  const body = `${prefix}_${kind}_${secret}`;
  const token = body + checksum(body);
  return {
    token,
    hash: hashToken(token),
    display: `${prefix}_${kind}_${secret.slice(0, DISPLAY_SECRET_CHARS)}`,
  };
}

export function hashToken(token: string): string {
  // One-shot: no Hash object per call (this runs on every request a token authenticates).
  return hash('sha256', token, 'hex');
}

const patterns = new Map<string, RegExp>();
function patternFor(prefix: string): RegExp {
  let re = patterns.get(prefix);
  if (!re) {
    // Longest kinds first: `svc_agent` must not be read as `svc` + a secret starting with "agent".
    const kinds = [...TOKEN_KINDS].sort((a, b) => b.length - a.length).join('|');
    re = new RegExp(`^${prefix}_(${kinds})_([0-9A-Za-z]{${SECRET_CHARS}})([0-9A-Za-z]{${CHECKSUM_CHARS}})$`);
    patterns.set(prefix, re);
  }
  return re;
}

/**
 * Checks a string's shape and checksum, without a database. Returns null for anything that is
 * not a well-formed Latchkey token. It does NOT say whether the token is live.
 */
export function parseToken(value: string, prefix = DEFAULT_TOKEN_PREFIX): ParsedToken | null {
  if (value.length > MAX_TOKEN_LENGTH) return null;
  const m = patternFor(prefix).exec(value);
  if (!m) return null;
  const [, kind, secret, sum] = m as unknown as [string, TokenKind, string, string];
  if (checksum(`${prefix}_${kind}_${secret}`) !== sum) return null;
  return { kind, display: `${prefix}_${kind}_${secret.slice(0, DISPLAY_SECRET_CHARS)}` };
}

/** True when the string looks like a token of this prefix (any kind), checksum aside. */
export function looksLikeToken(value: string, prefix = DEFAULT_TOKEN_PREFIX): boolean {
  return value.startsWith(`${prefix}_`);
}
