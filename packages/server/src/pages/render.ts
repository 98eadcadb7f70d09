import { escapeHtml } from '../mail/templates.js';

/** Server-rendered pages: plain HTML forms that work without JavaScript, no external assets. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · Latchkey</title>
<style>
:root{color-scheme:light dark;--fg:#111;--bg:#fff;--muted:#666;--accent:#1f4fd1;--border:#ccc}
@media (prefers-color-scheme:dark){:root{--fg:#eee;--bg:#121212;--muted:#aaa;--accent:#8fb0ff;--border:#444}}
body{font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg);margin:0;display:flex;justify-content:center}
main{max-width:28rem;width:100%;padding:2rem 1rem}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid var(--border);border-radius:6px;font:inherit;background:var(--bg);color:var(--fg)}
button{margin-top:1rem;padding:.6rem 1rem;border:0;border-radius:6px;background:var(--accent);color:#fff;font:inherit;cursor:pointer}
button:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.error{color:#b00020;border:1px solid #b00020;padding:.5rem;border-radius:6px}
.muted{color:var(--muted)}
a{color:var(--accent)}
</style></head>
<body><main><h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>`;
}

export function renderMessage(title: string, message: string): string {
  return page(title, `<p>${escapeHtml(message)}</p>`);
}

/** An http(s) origin that is safe to name in a CSP source list, or null. */
function cspOrigin(url: string): string | null {
  try {
    const { protocol, origin } = new URL(url);
    if (protocol !== 'https:' && protocol !== 'http:') return null;
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
