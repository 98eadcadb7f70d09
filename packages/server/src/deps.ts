import type { Cache } from './cache/index.js';
import type { Config } from './config/index.js';
import type { Db, Storage } from './db/connection.js';
import type { AuthCache } from './auth/credential-cache.js';
import type { Clock } from './lib/clock.js';
import type { Mailer } from './mail/mailer.js';

/** What the app is built from. Handlers take the narrow part they need. */
export interface Deps {
  readonly config: Config;
  readonly storage: Storage;
  readonly db: Db;
  readonly cache: Cache;
  readonly clock: Clock;
  readonly mailer: Mailer;
  /** This node's credential cache, invalidated across nodes through `cache` pub/sub. */
  readonly auth: AuthCache;
}
