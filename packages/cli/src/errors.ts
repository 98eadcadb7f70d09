/**
 * Exit codes, stable for scripts: 0 success; the rest say what kind of failure it was.
 */
export const EXIT = {
  ok: 0,
  /** The server refused the request (a 4xx other than 401), or a local file could not be used. */
  failed: 1,
  /** Bad command line: unknown command or option, missing or malformed value. */
  usage: 2,
  /** Not signed in, or the credential was rejected; the sign-in was denied or ran out of time. */
  auth: 3,
  /** The server could not be reached, timed out, answered 5xx, or is not a Latchkey server. */
  unavailable: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * A failure the CLI reports to the person: a one-line message for stderr, a stable code for
 * `--json`, and the exit code. Messages never contain a secret.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly exitCode: ExitCode,
    /** Stable, machine-readable: the server's error code when it gave one, else ours. */
    readonly code: string,
    message: string,
    readonly extra: { status?: number; hint?: string; data?: Record<string, unknown> } = {},
  ) {
    super(message);
  }
}

export function usageError(message: string): CliError {
  return new CliError(EXIT.usage, 'usage', message);
}

export function notSignedIn(server: string): CliError {
  return new CliError(EXIT.auth, 'not_signed_in', `Not signed in to ${server}.`, {
    hint: 'Run `latchkey login` (or set LATCHKEY_TOKEN).',
  });
}
