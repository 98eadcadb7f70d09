import type { Command } from 'commander';
import { type AgentKey, entryOf, loadConfig, updateConfig } from '../config.js';
import { type Context, contextOf, emit } from '../context.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { call } from '../http.js';
import type { AgentSignup, AgentStatus, AgentVerify, ErrorCode } from '@latchkey/contract';
import { HARNESS_RE, HARNESSES } from '../wire.js';

interface SignupOptions {
  humanEmail?: string;
  name?: string;
  noteToHuman?: string;
  harness?: string;
  replace?: boolean;
  showKey?: boolean;
}

export function registerAgent(program: Command): void {
  const agent = program.command('agent').description('self-serve signup for AI agents');
  const signup = agent
    .command('signup')
    .description(
      'sign this agent up: your human gets a 6-digit code by email; until they verify it, the agent works with restricted scopes',
    )
    // Checked in the action, not as required options: commander would demand them of the
    // subcommands (verify, status) too.
    .option('--human-email <email>', 'the email of the person who oversees this agent (required)')
    .option('--name <name>', "the agent's display name (required)")
    .option('--note-to-human <text>', 'a note included in the email to the human')
    .option(
      '--harness <harness>',
      `where the agent runs: ${HARNESSES.join(', ')}, or any other short identifier`,
    )
    .option('--replace', 'sign up again even though an agent key is stored for this server')
    .option('--show-key', 'also print the new key, this once (it is stored either way)')
    .action(async (o: SignupOptions, cmd: Command) => signUp(contextOf(cmd), o));
  signup
    .command('verify')
    .description('claim the agent with the code the human received by email')
    .requiredOption('--code <code>', 'the 6-digit verification code')
    .action(async (o: { code: string }, cmd: Command) => verify(contextOf(cmd), o.code));
  signup
    .command('status')
    .description("show the agent's claim status, restrictions and entitlements")
    .action(async (_o: unknown, cmd: Command) => status(contextOf(cmd)));
}

/** A display prefix of a key: enough to recognise it, far too little to use it. */
const keyPrefix = (key: string) => `${key.slice(0, key.lastIndexOf('_') + 9)}…`;

async function signUp(ctx: Context, o: SignupOptions): Promise<void> {
  if (o.humanEmail === undefined) throw usageError("required option '--human-email <email>' not specified");
  if (o.name === undefined) throw usageError("required option '--name <name>' not specified");
  const humanEmail = o.humanEmail.trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(humanEmail))
    throw usageError(`--human-email is not an email address: ${JSON.stringify(o.humanEmail)}`);
  const harness = o.harness?.trim().toLowerCase();
  if (harness !== undefined && !HARNESS_RE.test(harness))
    throw usageError(
      `--harness is a short identifier (letters, digits, ".", "_", "-"; at most 40): ${JSON.stringify(o.harness)}`,
    );
  const stored = loadConfig(ctx.env.configPath).servers[ctx.server]?.agent;
  if (stored && !o.replace)
    throw new CliError(
      EXIT.failed,
      'agent_exists',
      `An agent key for ${ctx.server} is already stored (agent ${stored.agent_id}).`,
      { hint: 'Use `latchkey agent signup status`, or sign up again with --replace.' },
    );
  const res = await call<AgentSignup>(ctx.server, {
    method: 'POST',
    path: '/api/v1/agent-signup',
    json: {
      human_email: humanEmail,
      display_name: o.name,
      ...(o.noteToHuman !== undefined ? { note_to_human: o.noteToHuman } : {}),
      ...(harness !== undefined ? { harness } : {}),
    },
  });
  if (typeof res.api_key !== 'string')
    throw new CliError(EXIT.unavailable, 'bad_response', `${ctx.server} returned no agent key.`);
  await updateConfig(ctx.env.configPath, (c) => {
    entryOf(c, ctx.server).agent = {
      api_key: res.api_key,
      agent_id: res.agent_id,
      org_id: res.org_id,
      status: res.status,
      human_email: humanEmail,
    };
    c.default_server ??= ctx.server;
  });
  emit(
    ctx,
    {
      server: ctx.server,
      agent_id: res.agent_id,
      org_id: res.org_id,
      status: res.status,
      email_address: res.email_address,
      key_prefix: keyPrefix(res.api_key),
      ...(res.mcp_install_url ? { mcp_install_url: res.mcp_install_url } : {}),
      ...(o.showKey ? { api_key: res.api_key } : {}),
      key_stored_in: ctx.env.configPath,
    },
    [
      `Signed up agent ${res.agent_id} in org ${res.org_id} (${res.status}).`,
      ...(res.mcp_install_url
        ? [`Install the MCP server: ${res.mcp_install_url} (its tools answer once the human verifies)`]
        : []),
      `Its key (${keyPrefix(res.api_key)}) is stored in ${ctx.env.configPath}; it works with restricted scopes until claimed.`,
      ...(o.showKey
        ? ['', `  ${res.api_key}`, '', 'Copy it now if you need it elsewhere: it is not printed again.']
        : []),
      `A 6-digit code was emailed to ${humanEmail}. When they share it, run:`,
      '',
      '  latchkey agent signup verify --code <code>',
    ],
  );
}

/** The agent key: LATCHKEY_TOKEN, else the stored one. */
function agentKey(ctx: Context): { token: string; stored: AgentKey | undefined } {
  const stored = loadConfig(ctx.env.configPath).servers[ctx.server]?.agent;
  const token = ctx.env.token ?? stored?.api_key;
  if (!token)
    throw new CliError(EXIT.auth, 'no_agent_key', `No agent key for ${ctx.server}.`, {
      hint: 'Run `latchkey agent signup --human-email … --name …` first (or set LATCHKEY_TOKEN).',
    });
  return { token, stored };
}

async function rememberStatus(ctx: Context, token: string, status: string): Promise<void> {
  if (ctx.env.token) return; // an env key is never written, nor is what we learn about it
  await updateConfig(ctx.env.configPath, (c) => {
    const a = c.servers[ctx.server]?.agent;
    if (a && a.api_key === token) a.status = status;
  });
}

async function verify(ctx: Context, raw: string): Promise<void> {
  const code = raw.replace(/[\s-]/g, '');
  if (!/^\d{6}$/.test(code)) throw usageError('--code must be the 6 digits from the email.');
  const { token } = agentKey(ctx);
  let res: AgentVerify;
  try {
    res = await call<AgentVerify>(ctx.server, {
      method: 'POST',
      path: '/api/v1/agent-signup/verify',
      bearer: token,
      json: { verification_code: code },
    });
  } catch (err) {
    const left = err instanceof CliError ? err.extra.data?.attempts_remaining : undefined;
    if (err instanceof CliError && typeof left === 'number' && !/attempt/i.test(err.message))
      throw new CliError(
        err.exitCode,
        err.code,
        `${err.message} ${left} attempt${left === 1 ? '' : 's'} left.`,
        err.extra,
      );
    if (err instanceof CliError && err.code === ('code_expired' satisfies ErrorCode))
      throw new CliError(err.exitCode, err.code, err.message, {
        ...err.extra,
        hint: 'The code has expired: sign up again with `latchkey agent signup --replace` for a new one.',
      });
    throw err;
  }
  await rememberStatus(ctx, token, res.status);
  emit(ctx, { server: ctx.server, ...res }, [
    `Agent ${res.status}.`,
    ...(res.scopes_upgraded?.length ? [`Scopes now granted: ${res.scopes_upgraded.join(' ')}`] : []),
    ...(res.mcp_install_url ? [`Install the MCP server: ${res.mcp_install_url}`] : []),
    ...(res.install_hint ? [res.install_hint] : []),
  ]);
}

async function status(ctx: Context): Promise<void> {
  const { token, stored } = agentKey(ctx);
  const s = await call<AgentStatus>(ctx.server, { path: '/api/v1/agent-signup/status', bearer: token });
  await rememberStatus(ctx, token, s.claim_status);
  const r = s.restrictions ?? {};
  const e = s.entitlements ?? {};
  const limit = (n: number | null | undefined) => (n === null || n === undefined ? 'unlimited' : String(n));
  emit(
    ctx,
    { server: ctx.server, ...(stored && !ctx.env.token ? { agent_id: stored.agent_id } : {}), ...s },
    [
      `Agent:           ${stored && !ctx.env.token ? stored.agent_id : '(key from LATCHKEY_TOKEN)'} at ${ctx.server}`,
      `Claim status:    ${s.claim_status}`,
      `Allowed scopes:  ${r.allowed_scopes?.join(' ') || '(none)'}`,
      `Blocked scopes:  ${r.blocked_scopes?.join(' ') || '(none)'}`,
      `MCP calls/day:   ${limit(r.mcp_calls_per_day)}`,
      `Guard runs/mo:   ${limit(r.guard_runs_per_month)}`,
      `Plan:            ${e.plan ?? '(unknown)'}; MCP install ready: ${e.mcp_install_ready ? 'yes' : 'no'}`,
    ],
  );
}
