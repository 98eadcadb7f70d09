import { MINUTE } from '../lib/clock.js';

/** Every limit of agent signup, in one place. */

/** Signups one IP may start per hour, across every node. */
export const AGENT_SIGNUPS_PER_IP_PER_HOUR = 5;
/**
 * Signups awaiting one human at a time: unclaimed, with a live code and attempts left. Bounds the
 * mail an address receives (at most this many codes per code lifetime); more answer 429.
 */
export const PENDING_SIGNUPS_PER_EMAIL = 3;
/** How long the emailed code works. */
export const CODE_TTL_MS = 15 * MINUTE;
/** Wrong codes before the agent is locked out of verification (until it signs up again). */
export const MAX_CODE_ATTEMPTS = 5;
export const CODE_DIGITS = 6;
export const DISPLAY_NAME_MAX = 100;
export const NOTE_MAX = 500;
