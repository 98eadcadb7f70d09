import { randomBytes } from '../lib/secrets.js';

const COUNTER_BITS = 74n;
const RAND_B_BITS = 62n;
let lastMs = -1;
let counter = 0n;

/** A fresh random counter for a new millisecond, its top bit clear so increments have room. */
function seedCounter(): bigint {
  return BigInt(`0x${randomBytes(10).toString('hex')}`) & ((1n << (COUNTER_BITS - 1n)) - 1n);
}

/**
 * A UUIDv7 (RFC 9562) for a row listed newest first by (created_at, id) — audit events,
 * invitations: the millisecond, then a counter that starts random each millisecond and counts up
 * within it, so the ids this process makes only ever increase. Rows written in the same
 * millisecond (one request's several audit events, anything under a frozen clock) then still sort
 * in the order they were written, which random (v4) ids do not give. Across nodes,
 * same-millisecond order is arbitrary. Does not make ids unguessable beyond their random part.
 */
export function orderedId(atMs: number): string {
  if (atMs > lastMs) {
    lastMs = atMs;
    counter = seedCounter();
  } else if (++counter >> COUNTER_BITS !== 0n) {
    lastMs++;
    counter = seedCounter();
  }
  const ts = BigInt(lastMs) & ((1n << 48n) - 1n);
  const randA = counter >> RAND_B_BITS;
  const randB = counter & ((1n << RAND_B_BITS) - 1n);
  const hex =
    ts.toString(16).padStart(12, '0') +
    (0x7000n | randA).toString(16).padStart(4, '0') +
    ((0b10n << RAND_B_BITS) | randB).toString(16).padStart(16, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
