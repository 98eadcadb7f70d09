#!/usr/bin/env node
import { ConfigError, loadConfig } from './config/index.js';
import { openConfiguredStorage } from './db/connection.js';
import { createLogger } from './http/logging.js';
import { withoutPassword } from './start-errors.js';

const USAGE = `usage: latchkey-server <command>

commands:
  start            migrate, then serve (default)
  migrate          apply pending database migrations and exit
  admin bootstrap  print a fresh one-time link that makes its opener an instance admin
                   (while none exists), using this server's configuration and database
  keys rotate      rotate the signing keys now: the next key (or a new one) signs from now on,
                   the retired one stays published until the last token it signed has expired`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'start';
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`latchkey: invalid configuration: ${err.message}`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  const log = createLogger(config.logLevel, undefined, config.logFormat);

  if (command === 'migrate') {
    const storage = await openConfiguredStorage(config);
    try {
      const { migrate } = await import('./db/migrate.js');
      const { applied } = await migrate(storage.db as never, storage.kind);
      log.info({ applied }, applied.length ? 'migrations applied' : 'database is up to date');
      const { sealStoredClientSecrets } = await import('./sso/secret-storage.js');
      const sealed = await sealStoredClientSecrets(storage.db, config);
      if (sealed) log.info({ sealed }, 'SSO client secrets sealed with LATCHKEY_SECRET');
    } finally {
      await storage.close();
    }
    return 0;
  }
  if (command === 'admin') {
    if (argv[1] !== 'bootstrap' || argv.length > 2) {
      console.error(USAGE);
      return 64; // EX_USAGE
    }
    const { bootstrapLink } = await import('./bootstrap.js');
    const out = await bootstrapLink(config);
    if (out.ok) {
      process.stdout.write(`  Make yourself an instance admin (one-time link): ${out.link}\n`);
      return 0;
    }
    console.error(
      out.reason === 'admin_exists'
        ? 'latchkey: an instance admin exists already; they manage the instance (no setup link is needed).'
        : `latchkey: a server (pid ${out.pid}) is running on the embedded database in ${config.dataDir}; ` +
            'stop it first, or restart it: every start prints a setup link while no instance admin exists.',
    );
    return out.reason === 'admin_exists' ? 1 : 75; // EX_TEMPFAIL
  }
  if (command === 'keys') {
    if (argv[1] !== 'rotate' || argv.length > 2) {
      console.error(USAGE);
      return 64; // EX_USAGE
    }
    const { rotateKeysNow } = await import('./oauth/oidc/rotate-command.js');
    const rotated = await rotateKeysNow(config);
    for (const r of rotated)
      process.stdout.write(
        `  ${r.alg}: ${r.current} signs from now on` +
          (r.retired ? `; ${r.retired} stays published until ${r.retiredUntil!.toISOString()}` : '') +
          '\n',
      );
    return 0;
  }
  if (command !== 'start') {
    console.error(USAGE);
    return 64; // EX_USAGE
  }

  for (const d of config.devDefaults) log.warn(`development default: ${d}`);
  // Opening the database is the slowest step of a start (the embedded one on its own thread):
  // it begins before the rest of the server is loaded, which then happens meanwhile.
  log.info(
    config.databaseUrl
      ? `connecting to PostgreSQL at ${withoutPassword(config.databaseUrl)}`
      : 'opening the embedded database (a first start creates it and applies the migrations: up to a minute)',
  );
  const storage = openConfiguredStorage(config);
  // startServer awaits it; until then, an early failure must not count as unhandled.
  storage.catch(() => {});
  const { startServer } = await import('./server.js');
  const running = await startServer(config, log, storage);
  // The two lines a person needs, printed plainly (not as JSON) so they are easy to click.
  process.stdout.write(`\n  Latchkey is running at ${running.url}\n`);
  if (running.setupLink)
    process.stdout.write(`  Create the first owner (one-time link): ${running.setupLink}\n`);
  process.stdout.write('\n');

  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    running.close().then(
      () => {
        log.info('shut down cleanly');
        process.exit(0);
      },
      (err) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    const what =
      process.argv[2] === 'migrate'
        ? 'migration failed'
        : process.argv[2] === 'admin'
          ? 'admin command failed'
          : process.argv[2] === 'keys'
            ? 'key rotation failed'
            : 'failed to start';
    console.error(`latchkey: ${what}:`, err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
