import type { Command } from 'commander';
import { entryOf, loadConfig, updateConfig } from '../config.js';
import { type Context, contextOf, emit, say } from '../context.js';
import { CliError } from '../errors.js';
import { call } from '../http.js';
import { browserLogin } from '../loopback.js';
import {
  apiResource,
  discover,
  pollDevice,
  registerClient,
  revoke,
  type ServerMetadata,
  scopesFor,
  startDevice,
  type TokenSet,
} from '../oauth.js';
import { sessionFrom } from '../session.js';
import type { Me } from '@latchkey/contract';
import { openUrl } from '../open.js';

interface LoginOptions {
  browser?: boolean;
  open?: boolean;
  scope: string[];
}

const collectScopes = (value: string, previous: string[]) => [
  ...previous,
  ...value.split(/[\s,]+/).filter(Boolean),
];

export function registerLogin(program: Command): void {
  program
    .command('login')
    .description('sign in to a Latchkey server as yourself (device code by default)')
    .option('--browser', 'sign in through your browser and a redirect to 127.0.0.1 instead of a code')
    .option('--open', 'open the sign-in page in your default browser')
    .option(
      '--scope <scopes>',
      'scopes to ask for, space- or comma-separated, repeatable (default: org:read tokens:manage)',
      collectScopes,
      [],
    )
    .addHelpText(
      'after',
      '\nThe device flow prints a URL and a code to enter there, from any device; --browser listens\non 127.0.0.1 for the redirect and needs a browser on this machine.',
    )
    .action(async (o: LoginOptions, cmd: Command) => login(contextOf(cmd), o));
}

async function login(ctx: Context, o: LoginOptions): Promise<void> {
  const meta = await discover(ctx.server);
  const api = await apiResource(ctx.server);
  const scopes = scopesFor(api, o.scope);
  const tokens = await withClient(ctx, meta, (clientId) =>
    o.browser
      ? browserLogin(ctx.server, meta, {
          clientId,
          resource: api.resource,
          scopes,
          open: o.open === true,
          onUrl: (url) => {
            say('Open this page in your browser to sign in:');
            say();
            say(`  ${url}`);
            say();
            say('Waiting for the browser to come back to 127.0.0.1…');
          },
        })
      : deviceLogin(ctx, meta, { clientId, resource: api.resource, scopes, open: o.open === true }),
  );
  // Stored at once: a failure from here on must not lose a sign-in the server has granted.
  const session = sessionFrom(tokens);
  const { previous, clientId } = await updateConfig(ctx.env.configPath, (c) => {
    const e = entryOf(c, ctx.server);
    const old = e.session;
    e.session = session;
    c.default_server = ctx.server;
    return { previous: old, clientId: e.client_id };
  });
  // The sign-in this one replaces is no longer needed by anyone: end it at the server too.
  if (previous?.refresh_token && clientId)
    await revoke(ctx.server, meta, { clientId, token: previous.refresh_token, hint: 'refresh_token' }).catch(
      () => {},
    );
  const me = await call<Me>(ctx.server, { path: '/api/v1/me', bearer: tokens.access_token });
  await updateConfig(ctx.env.configPath, (c) => {
    const s = c.servers[ctx.server]?.session;
    if (s?.access_token !== tokens.access_token) return;
    if (me.user) Object.assign(s, { user_id: me.user.id, email: me.user.email });
    if (me.org) Object.assign(s, { org_id: me.org.id, org_slug: me.org.slug });
  });
  const scope = tokens.scope.split(' ').filter(Boolean);
  emit(
    ctx,
    { server: ctx.server, user: me.user, org: me.org, scopes: scope, expires_at: session.expires_at },
    [
      `Signed in to ${ctx.server} as ${me.user ? `${me.user.name} <${me.user.email}>` : 'an app'}.`,
      ...(me.org ? [`Org: ${me.org.name} (${me.org.slug}), ${me.org.role}.`] : []),
      `Scopes: ${scope.join(' ') || '(none)'}.`,
    ],
  );
}

/**
 * Runs a sign-in with the CLI's client at this server, registering it the first time. A
 * remembered client the server no longer knows (a reset server) is registered again, once.
 */
async function withClient(
  ctx: Context,
  meta: ServerMetadata,
  fn: (clientId: string) => Promise<TokenSet>,
): Promise<TokenSet> {
  const remember = async () => {
    const id = await registerClient(ctx.server, meta);
    await updateConfig(ctx.env.configPath, (c) => {
      entryOf(c, ctx.server).client_id = id;
    });
    return id;
  };
  const known = loadConfig(ctx.env.configPath).servers[ctx.server]?.client_id;
  if (!known) return fn(await remember());
  try {
    return await fn(known);
  } catch (err) {
    if (!(err instanceof CliError) || !['invalid_client', 'unauthorized_client'].includes(err.code))
      throw err;
    return fn(await remember());
  }
}

async function deviceLogin(
  ctx: Context,
  meta: ServerMetadata,
  o: { clientId: string; resource: string; scopes: string[]; open: boolean },
): Promise<TokenSet> {
  const start = await startDevice(ctx.server, meta, o);
  say('To sign in, open this page on any device and enter the code:');
  say();
  say(`  ${start.verification_uri}`);
  say(`  Code: ${start.user_code}`);
  say();
  if (start.verification_uri_complete) say(`Or open ${start.verification_uri_complete}`);
  say(`Waiting for approval (the code expires in ${Math.round(start.expires_in / 60)} minutes)…`);
  if (o.open) openUrl(start.verification_uri_complete ?? start.verification_uri);
  return pollDevice(ctx.server, meta, { clientId: o.clientId, start });
}
