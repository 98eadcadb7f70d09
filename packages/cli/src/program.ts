import { createRequire } from 'node:module';
import { Command } from 'commander';
import { registerAdmin } from './commands/admin.js';
import { registerAgent } from './commands/agent.js';
import { registerLogin } from './commands/login.js';
import { registerLogout } from './commands/logout.js';
import { registerTokens } from './commands/tokens.js';
import { registerWhoami } from './commands/whoami.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/**
 * The command tree. Settings made here before any `.command()` (exit override, help layout)
 * are inherited by every subcommand.
 */
export function buildProgram(): Command {
  const program = new Command('latchkey')
    .description('Sign in to Latchkey, manage API tokens, and sign AI agents up.')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .option('--server <url>', 'Latchkey server URL (default: $LATCHKEY_URL, else the last one signed in to)')
    .option('--json', 'machine output: one JSON document on stdout')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .addHelpText(
      'after',
      `
Environment:
  LATCHKEY_URL     the server, unless --server names one
  LATCHKEY_TOKEN   a token to use as the bearer instead of the stored sign-in (never written)
  XDG_CONFIG_HOME  credentials live in $XDG_CONFIG_HOME/latchkey/config.toml (default ~/.config)

Exit codes: 0 ok, 1 request refused, 2 usage error, 3 sign-in needed, 4 server error or unreachable.`,
    );
  registerLogin(program);
  registerLogout(program);
  registerWhoami(program);
  registerTokens(program);
  registerAgent(program);
  registerAdmin(program);
  return program;
}
