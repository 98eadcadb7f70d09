#!/usr/bin/env node
import { CommanderError } from 'commander';
import { wantsJson } from './context.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import { buildProgram } from './program.js';

/** Commander's ways of ending that are not failures. */
const DONE = new Set(['commander.helpDisplayed', 'commander.version']);

/**
 * Reports a failure: one message (and a hint) on stderr; with --json also one JSON document on
 * stdout. Never a stack trace.
 */
function report(err: unknown, json: boolean): ExitCode {
  let e: CliError;
  if (err instanceof CliError) e = err;
  else if (err instanceof CommanderError) {
    // Commander has already printed its message on stderr.
    if (json) write(new CliError(EXIT.usage, 'usage', err.message.replace(/^error: /, '')));
    return EXIT.usage;
  } else {
    const why = err instanceof Error ? err.message : String(err);
    e = new CliError(EXIT.failed, 'internal', `unexpected error: ${why}`);
  }
  process.stderr.write(`latchkey: ${e.message}\n${e.extra.hint ? `  ${e.extra.hint}\n` : ''}`);
  if (json) write(e);
  return e.exitCode;
}

function write(e: CliError): void {
  const doc = {
    error: {
      code: e.code,
      message: e.message,
      ...(e.extra.status !== undefined ? { status: e.extra.status } : {}),
      ...(e.extra.hint ? { hint: e.extra.hint } : {}),
      ...e.extra.data,
    },
    exit_code: e.exitCode,
  };
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

async function main(argv: string[]): Promise<ExitCode> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError && DONE.has(err.code)) return EXIT.ok;
    return report(err, wantsJson(argv.slice(2)));
  }
}

const code = await main(process.argv);
// Exit once the output is flushed: an idle keep-alive socket must not hold the process open.
process.stdout.write('', () => process.exit(code));
