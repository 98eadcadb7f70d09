import { type Command, InvalidArgumentError, Option } from 'commander';
import { type Context, contextOf, emit, table } from '../context.js';
import { CliError } from '../errors.js';
import { api } from '../session.js';
import type { ApiToken, Page } from '@latchkey/contract';

/** Pages fetched at most by one `list` (of PAGE_SIZE rows each). */
export const MAX_PAGES = 50;
export const PAGE_SIZE = 100;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `3600`, `90m`, `12h`, `30d`, `2w` → seconds. */
export function parseDuration(value: string): number {
  const m = /^(\d{1,9})([smhdw]?)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected seconds or a number with s, m, h, d or w (e.g. 30d).');
  return Number(m[1]) * UNITS[m[2] || 's']!;
}

const collectScopes = (value: string, previous: string[] | undefined) => [
  ...(previous ?? []),
  ...value.split(/[\s,]+/).filter(Boolean),
];

interface CreateOptions {
  name?: string;
  type?: 'pat' | 'svc';
  scope?: string[];
  expiresIn?: number;
  neverExpires?: boolean;
  org?: string;
}

/** Where a family of tokens lives: personal/service tokens, or the org's API keys. */
interface Family {
  path: string;
  noun: string;
  /** Whether the family is org-scoped, so `--org` picks the org. */
  org: boolean;
}

const PERSONAL: Family = { path: '/api/v1/tokens', noun: 'token', org: false };
const ORG_KEYS: Family = { path: '/api/v1/org/tokens', noun: 'org API key', org: true };

const orgOption = () => new Option('--org <org>', 'org id or slug (default: the org you signed in to)');

function addCommands(parent: Command, family: Family): void {
  const create = parent
    .command('create')
    .description(
      `create ${family === PERSONAL ? 'a personal access or service token' : 'an org API key'}; its secret is shown once`,
    )
    .option('--name <name>', 'a name to recognise it by')
    .option(
      '--scope <scopes>',
      'scopes, space- or comma-separated, repeatable (default: org:read only)',
      collectScopes,
    )
    .option(
      '--expires-in <duration>',
      'lifetime: seconds, or e.g. 90m, 12h, 30d (default: 90 days, never past the credential minting it)',
      parseDuration,
    )
    .option('--never-expires', 'no expiry (only from a credential that does not expire itself)');
  if (family === PERSONAL)
    create.addOption(
      new Option('--type <type>', 'pat (acts as you) or svc (a service token of the org)')
        .choices(['pat', 'svc'])
        .default('pat'),
    );
  create
    .addOption(orgOption())
    .action(async (o: CreateOptions, cmd: Command) => createToken(contextOf(cmd), family, o));

  const list = parent.command('list').description(`list ${family.noun}s (never their secrets)`);
  if (family === PERSONAL)
    list.addOption(new Option('--type <type>', 'pat or svc').choices(['pat', 'svc']).default('pat'));
  list
    .addOption(orgOption())
    .action(async (o: { type?: string; org?: string }, cmd: Command) =>
      listTokens(contextOf(cmd), family, o),
    );

  parent
    .command('rotate')
    .description(
      `a new secret for a ${family.noun}, with the same name, scopes and expiry; the old one stops working at once`,
    )
    .argument('<id>', `the ${family.noun}'s id (see \`list\`)`)
    .addOption(orgOption())
    .action(async (id: string, o: { org?: string }, cmd: Command) =>
      rotateToken(contextOf(cmd), family, id, o),
    );

  parent
    .command('revoke')
    .description(`revoke a ${family.noun} by id; it stops working at once`)
    .argument('<id>', `the ${family.noun}'s id (see \`list\`)`)
    .addOption(orgOption())
    .action(async (id: string, o: { org?: string }, cmd: Command) =>
      revokeToken(contextOf(cmd), family, id, o),
    );
}

export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description('personal access tokens and service tokens');
  addCommands(tokens, PERSONAL);
  const org = program.command('org').description('the org you act in');
  const keys = org.command('tokens').description("the org's API keys (admin or owner)");
  addCommands(keys, ORG_KEYS);
}

const orgHeader = (o: { org?: string }) => (o.org ? { org: o.org } : {});

/**
 * Personal and service tokens (`/api/v1/tokens`) are account actions: the server takes them only
 * from a browser session or a personal token created in one with `account:write`. `latchkey
 * login` holds an OAuth token, which never is; say so and what to do instead.
 */
async function personal<T>(ctx: Context, family: Family, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (family !== PERSONAL || !(err instanceof CliError) || err.code !== 'session_required') throw err;
    throw new CliError(
      err.exitCode,
      err.code,
      'Personal access and service tokens are managed from a browser session, not with the sign-in of `latchkey login`.',
      {
        ...err.extra,
        hint: `Create one in the dashboard (${ctx.server}/app/), or set LATCHKEY_TOKEN to a personal token created there with account:write. Org API keys work with your sign-in: \`latchkey org tokens create\`.`,
      },
    );
  }
}

async function createToken(ctx: Context, family: Family, o: CreateOptions): Promise<void> {
  const t = await personal(ctx, family, () =>
    api<ApiToken>(ctx, {
      method: 'POST',
      path: family.path,
      json: {
        ...(o.name !== undefined ? { name: o.name } : {}),
        ...(family === PERSONAL ? { type: o.type ?? 'pat' } : {}),
        ...(o.scope?.length ? { scopes: o.scope } : {}),
        ...(o.expiresIn !== undefined ? { expires_in: o.expiresIn } : {}),
        ...(o.neverExpires ? { never_expires: true } : {}),
      },
      ...orgHeader(o),
    }),
  );
  emit(ctx, t, [
    `Created ${describe(t)} ${t.name ? `"${t.name}" ` : ''}(id ${t.id}).`,
    '',
    `  ${t.token ?? '(the server returned no secret)'}`,
    '',
    'Copy it now: it is shown only this once.',
    `Scopes:  ${t.scopes.join(' ') || '(none)'}`,
    `Expires: ${t.expires_at ?? 'never'}`,
  ]);
}

async function rotateToken(ctx: Context, family: Family, id: string, o: { org?: string }): Promise<void> {
  const t = await personal(ctx, family, () =>
    api<ApiToken>(ctx, {
      method: 'POST',
      path: `${family.path}/${encodeURIComponent(id)}/rotate`,
      ...orgHeader(o),
    }),
  );
  emit(ctx, t, [
    `Rotated: ${describe(t)} ${t.name ? `"${t.name}" ` : ''}now has id ${t.id}; ${id} no longer works.`,
    '',
    `  ${t.token ?? '(the server returned no secret)'}`,
    '',
    'Copy it now: it is shown only this once.',
    `Scopes:  ${t.scopes.join(' ') || '(none)'}`,
    `Expires: ${t.expires_at ?? 'never'}`,
  ]);
}

function describe(t: ApiToken): string {
  switch (t.type) {
    case 'pat':
      return 'personal access token';
    case 'svc':
      return 'service token';
    case 'org':
      return 'org API key';
    default:
      return `${t.type} token`;
  }
}

async function listTokens(ctx: Context, family: Family, o: { type?: string; org?: string }): Promise<void> {
  const all: ApiToken[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < MAX_PAGES; i++) {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (family === PERSONAL && o.type) q.set('type', o.type);
    if (cursor) q.set('cursor', cursor);
    const page: Page<ApiToken> = await personal(ctx, family, () =>
      api<Page<ApiToken>>(ctx, {
        path: `${family.path}?${q}`,
        ...orgHeader(o),
      }),
    );
    all.push(...page.data);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  // A list never carries a secret; drop one should a server ever send it.
  const data = all.map(({ token: _secret, ...rest }) => rest);
  emit(
    ctx,
    { data },
    data.length === 0
      ? `No ${family.noun}s.`
      : table(
          ['ID', 'PREFIX', 'NAME', 'SCOPES', 'EXPIRES', 'LAST USED'],
          data.map((t) => [
            t.id,
            t.prefix,
            t.name ?? '',
            t.scopes.join(' '),
            t.expires_at ?? 'never',
            t.last_used_at ?? 'never',
          ]),
        ),
  );
}

async function revokeToken(ctx: Context, family: Family, id: string, o: { org?: string }): Promise<void> {
  await personal(ctx, family, () =>
    api<null>(ctx, {
      method: 'DELETE',
      path: `${family.path}/${encodeURIComponent(id)}`,
      ...orgHeader(o),
    }),
  );
  emit(ctx, { id, revoked: true }, `Revoked ${family.noun} ${id}.`);
}
