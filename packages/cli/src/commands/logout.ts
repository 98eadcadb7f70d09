import type { Command } from 'commander';
import { loadConfig, updateConfig } from '../config.js';
import { type Context, contextOf, emit, say } from '../context.js';
import { CliError } from '../errors.js';
import { discover, revoke } from '../oauth.js';

interface LogoutOptions {
  force?: boolean;
}

export function registerLogout(program: Command): void {
  program
    .command('logout')
    .description('end the sign-in: revoke it at the server, then forget it here')
    .option('--force', 'forget the local credentials even if the server cannot be reached')
    .action(async (o: LogoutOptions, cmd: Command) => logout(contextOf(cmd), o));
}

async function logout(ctx: Context, o: LogoutOptions): Promise<void> {
  const entry = loadConfig(ctx.env.configPath).servers[ctx.server];
  const s = entry?.session;
  if (!s) {
    emit(ctx, { server: ctx.server, signed_out: false, revoked: false }, `Not signed in to ${ctx.server}.`);
    return;
  }
  let revoked = false;
  if (entry.client_id) {
    try {
      // Revoking the refresh token ends its whole family at the server, access tokens included.
      await revoke(ctx.server, await discover(ctx.server), {
        clientId: entry.client_id,
        token: s.refresh_token ?? s.access_token,
        hint: s.refresh_token ? 'refresh_token' : 'access_token',
      });
      revoked = true;
    } catch (err) {
      if (!(err instanceof CliError) || !o.force) {
        if (err instanceof CliError)
          throw new CliError(err.exitCode, err.code, `Could not revoke the sign-in: ${err.message}`, {
            ...err.extra,
            hint: 'The local credentials were kept. Try again, or forget them anyway with `latchkey logout --force`.',
          });
        throw err;
      }
      say(`latchkey: warning: could not revoke the sign-in at the server (${err.message}).`);
    }
  }
  await updateConfig(ctx.env.configPath, (c) => {
    const e = c.servers[ctx.server];
    if (e) delete e.session;
  });
  emit(
    ctx,
    { server: ctx.server, signed_out: true, revoked },
    revoked
      ? `Signed out of ${ctx.server}; the sign-in was revoked at the server.`
      : `Signed out of ${ctx.server} on this machine only; the sign-in was not revoked at the server.`,
  );
}
