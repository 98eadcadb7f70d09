import { escapeHtml } from '../mail/templates.js';
import { page } from './render.js';

/**
 * An address shown to someone who may not own it: the first character of the local part and
 * the domain (`j***@example.com`), enough to recognise one's own account, not to learn another's.
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${email[0]}***${email.slice(at)}`;
}

export interface ConfirmPage {
  title: string;
  /** Paragraphs of plain text (escaped here). */
  text: readonly string[];
  /** Where the one button posts (a path on this server). */
  action: string;
  /** Hidden form fields (escaped here). */
  fields: Readonly<Record<string, string>>;
  button: string;
}

/**
 * The page a mailed link opens: it changes nothing itself and holds one button that POSTs,
 * so a mail scanner that fetches the link does not use it up.
 */
export function confirmPage(p: ConfirmPage): string {
  const hidden = Object.entries(p.fields)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return page(
    p.title,
    `${p.text.map((t) => `<p>${escapeHtml(t)}</p>`).join('\n')}
<form method="post" action="${escapeHtml(p.action)}">${hidden}<button type="submit">${escapeHtml(p.button)}</button></form>`,
  );
}
