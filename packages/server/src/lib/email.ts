/** The longest address Latchkey accepts (RFC 5321's path limit, less the angle brackets). */
export const EMAIL_MAX = 254;

/** Emails are compared in one form: trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * Whether a normalised address is one Latchkey accepts: a local part without spaces, quotes or
 * the characters that would need them, and a domain of at least two dot-separated labels that
 * neither start nor end with a hyphen. Does NOT check that the domain exists or takes mail.
 */
export function isValidEmail(email: string): boolean {
  if (email.length > EMAIL_MAX) return false;
  const m = /^([^\s@"<>(),;:\\[\]]{1,64})@([a-z0-9-]+(?:\.[a-z0-9-]+)+)$/.exec(email);
  return m !== null && !m[2]!.split('.').some((label) => label.startsWith('-') || label.endsWith('-'));
}

/**
 * An address shown to someone who may not own it: the first character of the local part and
 * the domain (`j***@example.com`), enough to recognise one's own account, not to learn another's.
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${email[0]}***${email.slice(at)}`;
}
