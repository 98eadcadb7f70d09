import { DAY } from '../lib/clock.js';

/** The browser session's cookie (`__Host-` prefixed over HTTPS: `http/request.ts`) and its lifetime. */
export const SESSION_COOKIE = 'lk_session';
export const SESSION_TTL_MS = 30 * DAY;
