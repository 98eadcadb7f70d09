import type { Command } from 'commander';
import { type Context, contextOf, emit } from '../context.js';
import { api } from '../session.js';
import type { Me } from '@latchkey/contract';

interface WhoamiOptions {
  org?: string;
}

export function registerWhoami(program: Command): void {
  program
    .command('whoami')
    .description('show who the CLI acts as: the person, the org and the credential')
    .option('--org <org>', 'org id or slug to act in (default: the org of the sign-in)')
    .action(async (o: WhoamiOptions, cmd: Command) => whoami(contextOf(cmd), o));
}

async function whoami(ctx: Context, o: WhoamiOptions): Promise<void> {
  const me = await api<Me>(ctx, { path: '/api/v1/me', ...(o.org ? { org: o.org } : {}) });
  const c = me.credential;
  const lines = [
    `Server:      ${ctx.server}`,
    `User:        ${me.user ? `${me.user.name} <${me.user.email}> (${me.user.id})` : '(none: not a person)'}`,
    `Org:         ${me.org ? `${me.org.name} (${me.org.slug}, ${me.org.id}), ${me.org.role}` : '(none)'}`,
    `Credential:  ${c.kind}${c.prefix ? ` ${c.prefix}…` : ''}${ctx.env.token ? ' (from LATCHKEY_TOKEN)' : ''}`,
    `Scopes:      ${c.scopes ? c.scopes.join(' ') || '(none)' : 'everything the role allows'}`,
  ];
  // Servers before permissions were listed in `me` leave the line out rather than guess from the role.
  if (me.org?.permissions)
    lines.push(`Can:         ${me.org.permissions.join(' ') || '(nothing in this org)'}`);
  const others = me.orgs.filter((x) => x.id !== me.org?.id);
  if (others.length) lines.push(`Other orgs:  ${others.map((x) => `${x.slug} (${x.role})`).join(', ')}`);
  emit(ctx, { server: ctx.server, ...me }, lines);
}
