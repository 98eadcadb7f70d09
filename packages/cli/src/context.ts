import type { Command } from 'commander';
import { DEFAULT_SERVER, type Env, loadConfig, normalizeServer, readEnv } from './config.js';

/** What every command runs with: the server, the output mode, the environment. */
export interface Context {
  readonly env: Env;
  /** Normalised server URL: the key of its table in the config file. */
  readonly server: string;
  /** Machine output: one JSON document on stdout. */
  readonly json: boolean;
}

interface GlobalOptions {
  server?: string;
  json?: boolean;
}

/** The server is `--server`, else LATCHKEY_URL, else the one last signed in to, else the default. */
export function contextOf(cmd: Command): Context {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  const env = readEnv();
  const raw = o.server ?? env.url ?? loadConfig(env.configPath).default_server ?? DEFAULT_SERVER;
  return Object.freeze({ env, server: normalizeServer(raw), json: o.json === true });
}

/** Whether the command line asked for JSON, for errors found before a context exists. */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** Prints a command's result: the JSON document with `--json`, else the human lines. */
export function emit(ctx: Context, doc: unknown, human: string | readonly string[]): void {
  if (ctx.json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  else process.stdout.write(`${typeof human === 'string' ? human : human.join('\n')}\n`);
}

/** Progress and instructions for the person at the terminal: stderr, so stdout stays parseable. */
export function say(line = ''): void {
  process.stderr.write(`${line}\n`);
}

/** Columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
