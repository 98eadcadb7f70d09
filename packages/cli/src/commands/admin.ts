import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { type Context, contextOf, emit } from '../context.js';
import { CliError, EXIT } from '../errors.js';

/** `latchkey-server admin bootstrap` exit codes (packages/server/src/main.ts). */
const SERVER_EXIT = { adminExists: 1, config: 78, inUse: 75 } as const;
/** A bootstrap that takes longer than this is stuck (a database that does not answer). */
const BOOTSTRAP_TIMEOUT_MS = 300_000;
const LINK = /(https?:\/\/\S+\/setup\?token=\S+)/;

export function registerAdmin(program: Command): void {
  const admin = program
    .command('admin')
    .description("operate the server itself; runs on the server's machine, with its configuration");
  admin
    .command('bootstrap')
    .description(
      'print a fresh one-time link that makes whoever opens it an instance admin (while none exists)',
    )
    .addHelpText(
      'after',
      `
Runs \`latchkey-server admin bootstrap\` (from PATH, or $LATCHKEY_SERVER_BIN) in this directory
and environment, so it reaches the server's database as the server does (DATABASE_URL,
LATCHKEY_DATA_DIR, PUBLIC_URL, latchkey.toml). It needs no sign-in: access to the database is the
credential. On the embedded database, stop the server first (or just restart it: every start
prints a link while no instance admin exists).`,
    )
    .action(async (_o: unknown, cmd: Command) => bootstrap(contextOf(cmd)));
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the server program; `node` runs it when it is a JavaScript file (a built `main.js`). */
function runServer(bin: string, args: string[]): Promise<Ran> {
  const js = /\.[cm]?js$/.test(bin);
  const child = spawn(js ? process.execPath : bin, js ? [bin, ...args] : args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), BOOTSTRAP_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The server's own message, without its `latchkey: ` prefix. */
function serverMessage(r: Ran): string {
  const line = r.stderr.trim().split('\n').at(-1) ?? '';
  return line.replace(/^latchkey: /, '') || `latchkey-server exited with code ${r.code}.`;
}

async function bootstrap(ctx: Context): Promise<void> {
  const bin = ctx.env.serverBin ?? 'latchkey-server';
  let r: Ran;
  try {
    r = await runServer(bin, ['admin', 'bootstrap']);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new CliError(EXIT.failed, 'server_not_found', `Cannot run ${bin}: not found.`, {
        hint: "Run this on the server's machine, where latchkey-server is installed, or set LATCHKEY_SERVER_BIN.",
      });
    throw err;
  }
  const link = r.code === 0 ? LINK.exec(r.stdout)?.[1] : undefined;
  if (link) {
    emit(ctx, { setup_url: link }, [
      'Open this one-time link to become an instance admin (it works once; sign in first to use an existing account):',
      `  ${link}`,
    ]);
    return;
  }
  if (r.code === SERVER_EXIT.adminExists) throw new CliError(EXIT.failed, 'admin_exists', serverMessage(r));
  if (r.code === SERVER_EXIT.inUse) throw new CliError(EXIT.failed, 'database_in_use', serverMessage(r));
  if (r.code === SERVER_EXIT.config)
    throw new CliError(EXIT.usage, 'invalid_configuration', serverMessage(r));
  throw new CliError(EXIT.unavailable, 'bootstrap_failed', serverMessage(r));
}
