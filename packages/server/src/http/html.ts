import { escapeHtml } from '../mail/templates.js';
import { isPrivateUseScheme } from '../lib/uri-scheme.js';

/**
 * The pages' look: the dashboard's palette (packages/dashboard/src/styles/), light and dark by
 * `prefers-color-scheme`, in one inline style sheet (no external assets).
 */
const STYLE = `
:root{color-scheme:light dark;--bg:#f5f6f8;--surface:#fff;--surface-2:#eef0f4;--fg:#14171f;--muted:#565d6b;--border:#d4d8df;--accent:#1f4fd1;--accent-hover:#173fae;--accent-fg:#fff;--danger:#b3261e;--danger-soft:#fbeaea;--success:#1d6f3a;--success-soft:#e6f4ea;--focus:#1f4fd1}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--surface:#171a21;--surface-2:#1f232c;--fg:#e8eaee;--muted:#a4abb8;--border:#323846;--accent:#8fb0ff;--accent-hover:#adc6ff;--accent-fg:#0b1330;--danger:#ff8a80;--danger-soft:#3a1a19;--success:#7fd99a;--success-soft:#15301f;--focus:#8fb0ff}}
*,*::before,*::after{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg);margin:0;display:flex;flex-direction:column;align-items:center;min-height:100vh;padding:2rem 1rem}
.brand{display:flex;align-items:center;gap:.45rem;font-weight:700;font-size:1.1rem;margin:0 0 1rem}
.brand svg{color:var(--accent)}
main{max-width:30rem;width:100%;background:var(--surface);border:1px solid var(--border);border-radius:8px;box-shadow:0 1px 2px rgb(16 24 40/6%),0 1px 3px rgb(16 24 40/10%);padding:1.5rem}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
p{margin:0 0 .75rem}
label{display:block;margin:.9rem 0 .3rem;font-weight:600}
input,select,textarea{width:100%;min-height:2.5rem;padding:.45rem .6rem;border:1px solid var(--border);border-radius:6px;font:inherit;background:var(--surface);color:var(--fg)}
input[type=checkbox],input[type=radio]{width:1.1rem;height:1.1rem;min-height:0;margin:.2rem .5rem 0 0;accent-color:var(--accent);vertical-align:-.15em}
fieldset{border:1px solid var(--border);border-radius:8px;margin:1rem 0 0;padding:.5rem 1rem}
legend{font-weight:600;padding:0 .25rem}
fieldset li{margin:.4rem 0}
button{margin:1rem .5rem 0 0;min-height:2.5rem;padding:.5rem 1.1rem;border:1px solid var(--accent);border-radius:6px;background:var(--accent);color:var(--accent-fg);font:inherit;font-weight:600;cursor:pointer}
button:hover{background:var(--accent-hover)}
button[value=deny]{background:var(--surface)!important;color:var(--fg);border-color:var(--border)}
button[value=deny]:hover{background:var(--surface-2)!important}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.error{color:var(--fg);background:var(--danger-soft);border:1px solid var(--danger);padding:.6rem .8rem;border-radius:8px}
[role=status]{background:var(--success-soft);border:1px solid var(--success);padding:.6rem .8rem;border-radius:8px}
.risk{color:var(--danger)}
.muted{color:var(--muted)}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.9em}
pre{background:var(--surface-2);border:1px solid var(--border);border-radius:6px;padding:.75rem;overflow:auto}
a{color:var(--accent)}
`;

const LOGO = `<svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true"><circle cx="8" cy="12" r="5" fill="none" stroke="currentColor" stroke-width="2.5"/><path d="M13 12h9M19 12v4M16 12v3" stroke="currentColor" stroke-width="2.5" fill="none"/></svg>`;

/**
 * Server-rendered pages: plain HTML forms that work without JavaScript, no external assets.
 * The document's referrer policy is `same-origin`: with the `no-referrer` header alone, browsers
 * send `Origin: null` on form posts, which the CSRF check (rightly) refuses.
 */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${escapeHtml(title)} · Latchkey</title>
<style>${STYLE}</style></head>
<body><p class="brand">${LOGO}<span>Latchkey</span></p><main><h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>`;
}

export function renderMessage(title: string, message: string): string {
  return page(title, `<p>${escapeHtml(message)}</p>`);
}

/** An http(s) origin, or an app's own scheme, that is safe to name in a CSP source list, or null. */
function cspOrigin(url: string): string | null {
  try {
    const { protocol, origin } = new URL(url);
    // A native app's own scheme (RFC 8252 §7.1), already checked at registration: a scheme-source.
    if (protocol !== 'https:' && protocol !== 'http:')
      return isPrivateUseScheme(protocol.slice(0, -1)) ? protocol : null;
    return /^https?:\/\/[A-Za-z0-9.\-[\]:]+$/.test(origin) ? origin : null;
  } catch {
    return null;
  }
}

/**
 * The pages' Content-Security-Policy. Browsers apply `form-action` to every redirect a form
 * submission follows, so a form whose submission ends at an OAuth client's redirect URI (consent,
 * or sign-in that resumes an authorisation already consented to) names that URI's origin too.
 */
export function pageCsp(formRedirects: readonly string[] = []): string {
  const extra = [...new Set(formRedirects.map(cspOrigin).filter((o) => o !== null))];
  const formAction = ["'self'", ...extra].join(' ');
  return `default-src 'none'; style-src 'unsafe-inline'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`;
}

export const PAGE_CSP = pageCsp();

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
