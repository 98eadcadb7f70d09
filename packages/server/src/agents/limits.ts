import { DAY, HOUR, MINUTE } from '../lib/clock.js';

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
/** How long refused signups are kept for operators to review. */
export const BLOCKED_ATTEMPTS_KEPT_MS = 90 * DAY;
export const BLOCK_REASON_MAX = 300;
/** Unclaimed agent orgs one sweep deletes at most (the next tick takes the rest). */
export const UNCLAIMED_SWEEP_BATCH = 200;
/** How often the running server sweeps: unclaimed orgs past their time, old usage and attempts. */
export const AGENT_SWEEP_TICK_MS = HOUR;
