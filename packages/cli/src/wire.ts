/**
 * What the CLI sends that the wire contract leaves open. The shapes it reads are the contract's
 * (`@latchkey/contract`), imported as types only: the built CLI needs nothing of it at run time.
 */

/** Harnesses the server tailors install guidance for; any other short identifier is accepted too. */
export const HARNESSES = [
  'cursor',
  'claude-code',
  'claude-desktop',
  'codex',
  'windsurf',
  'vscode',
  'zed',
  'gemini-cli',
  'goose',
  'cline',
  'continue',
  'other',
] as const;
export const HARNESS_RE = /^[a-z0-9][a-z0-9._-]{0,39}$/;
