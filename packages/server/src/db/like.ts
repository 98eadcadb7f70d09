/**
 * Escapes `%`, `_` and `\` for a LIKE pattern, so that a value someone typed matches only itself
 * (the pattern's own wildcards are added around it by the caller). PostgreSQL's default escape
 * character is the backslash.
 */
export function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
