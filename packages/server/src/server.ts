import { join } from 'node:path';
import type { Logger } from 'pino';
import { issueSetupLink } from './accounts/setup.js';
import { markDataDirInUse } from './db/data-dir.js';
import { openCache } from './cache/index.js';
import type { Config } from './config/index.js';
import type { Storage } from './db/connection.js';
import { migrate } from './db/migrate.js';
import type { Deps } from './deps.js';
import { AuthCache } from './auth/credential-cache.js';
import type { App } from './http/types.js';
import { systemClock } from './lib/clock.js';
import { reaching } from './start-errors.js';
import { createMailer } from './mail/mailer.js';
import { scheduleUnusedRegistrationCleanup } from './oauth/store/unused-clients.js';
import { scheduleOAuthSweep } from './oauth/store/retention.js';
import { scheduleKeyRotation } from './oauth/oidc/schedule.js';
import { scheduleDomainRechecks } from './sso/domains.js';
import { scheduleAgentSweep } from './agents/controls.js';
import { scheduleEmbeddedMaintenance } from './db/embedded-maintenance.js';
import { sealStoredClientSecrets } from './sso/secret-storage.js';

/** How often a draining server closes connections that have just gone idle. */
const SHUTDOWN_SWEEP_MS = 50;

export interface Running {
  app: App;
  deps: Deps;
  url: string;
  setupLink: string | null;
  close(): Promise<void>;
}

/**
 * Given the storage being opened (`openConfiguredStorage`, started first by the caller), migrates,
 * opens the cache, builds the app and listens.
 */
export async function startServer(config: Config, log: Logger, opening: Promise<Storage>): Promise<Running> {
  const started = performance.now();
  // The HTTP layer loads while the database opens.
  const [storage, { buildApp }] = await Promise.all([opening, import('./app.js')]);
  if (config.databaseUrl) await reaching('PostgreSQL', config.databaseUrl, storage.ping);
  const releaseDataDir = markDataDirInUse(config);
  const { applied } = await migrate(storage.db as never, storage.kind);
  if (applied.length) log.info({ applied }, 'migrations applied');
  const sealed = await sealStoredClientSecrets(storage.db, config);
  if (sealed) log.info({ sealed }, 'SSO client secrets sealed with LATCHKEY_SECRET');
  const cache = config.redisUrl
    ? await reaching('Redis', config.redisUrl, () => openCache({ redisUrl: config.redisUrl }))
    : await openCache({ redisUrl: null });
  const mailer = createMailer({
    smtpUrl: config.smtpUrl,
    from: config.mailFrom,
    outboxDir: join(config.dataDir, 'outbox'),
    log,
    logLinks: config.logFormat === 'text',
  });
  const auth = new AuthCache(cache, config.authCacheEntries);
  const deps: Deps = { config, storage, db: storage.db, cache, clock: systemClock, mailer, auth };
  const app = await buildApp(deps, log);
  // Verified SSO domains are re-checked in DNS; an hourly tick picks the ones due (daily each).
  const stopRechecks = scheduleDomainRechecks({ db: storage.db, clock: systemClock, config, mailer, log });
  // Unclaimed agent orgs past their time are deleted; old usage and refused attempts dropped.
  const stopAgentSweep = scheduleAgentSweep({
    db: storage.db,
    clock: systemClock,
    auth,
    plans: config.agentPlans,
    log,
  });
  // Registered clients that never completed an authorization are deleted after a day (hourly tick).
  const stopClientCleanup = scheduleUnusedRegistrationCleanup({
    db: storage.db,
    clock: systemClock,
    auth,
    log,
  });
  // Token families, codes and device authorizations a day past their expiry are deleted.
  const stopOAuthSweep = scheduleOAuthSweep({
    db: storage.db,
    clock: systemClock,
    log,
    exclusive: storage.kind === 'postgres',
  });
  // The embedded database has no autovacuum of its own: a minute's tick does its work.
  const stopMaintenance =
    storage.kind === 'pglite' ? scheduleEmbeddedMaintenance({ db: storage.db, log }) : () => {};
  // Signing keys: a current key from the first start, the next one published ahead, rotation on schedule.
  const stopKeyRotation = await scheduleKeyRotation({
    db: storage.db,
    cache,
    clock: systemClock,
    config,
    log,
  });
  // Until an instance admin exists, every start prints a fresh one-time link.
  const setupLink = await issueSetupLink(storage.db, systemClock, config.publicUrl);
  for (const r of config.resources)
    log.info(
      { id: r.id, scopes: r.scopes ?? 'all' },
      `resource ${r.name} (${r.url}) loaded from ${config.configFile ?? 'latchkey.toml'}`,
    );
  // Listen last: the first request finds the signing keys and the setup link in place.
  await app.listen({ port: config.port, host: config.host });
  log.info(
    {
      storage: storage.kind,
      cache: cache.kind,
      mail: mailer.kind,
      ms: Math.round(performance.now() - started),
    },
    `Latchkey listening on ${config.publicUrl}`,
  );
  let closing: Promise<void> | null = null;
  return {
    app,
    deps,
    url: config.publicUrl,
    setupLink,
    close: () => {
      closing ??= (async () => {
        stopRechecks();
        stopAgentSweep();
        stopClientCleanup();
        stopOAuthSweep();
        stopMaintenance();
        stopKeyRotation();
        // app.close() stops listening, closes idle keep-alive connections and waits for in-flight
        // requests. A connection whose request finishes during the drain turns idle afterwards and
        // would hold the close until its keep-alive timeout (5 s): sweep those as they appear.
        const sweep = setInterval(() => app.server.closeIdleConnections(), SHUTDOWN_SWEEP_MS);
        try {
          await app.close();
        } finally {
          clearInterval(sweep);
        }
        mailer.close();
        await cache.close();
        await storage.close();
        releaseDataDir();
      })();
      return closing;
    },
  };
}
