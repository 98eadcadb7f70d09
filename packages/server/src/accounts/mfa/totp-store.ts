import type { Deps } from '../../deps.js';
import { secretBoxOf } from '../../lib/secret-box.js';
import type { TotpStore } from './totp.js';

/** The TOTP store of an app: its database, clock, and the secret box of its configuration. */
export function totpStore(deps: Pick<Deps, 'db' | 'clock' | 'config'>): TotpStore {
  return { db: deps.db, clock: deps.clock, box: secretBoxOf(deps.config) };
}
