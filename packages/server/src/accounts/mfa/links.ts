import { escapeHtml } from '../../mail/templates.js';

/** The page with the "Sign in with a passkey" button (it runs the WebAuthn ceremony). */
export const PASSKEY_SIGNIN_PAGE = '/login/passkey';

/**
 * What the sign-in page shows above its other ways in: a "Sign in with a passkey" button that
 * leads to the passkey page (the sign-in page itself runs no script), carrying `return_to`.
 */
export function passkeySignInSlot(returnTo: string | null): string {
  const href = `${PASSKEY_SIGNIN_PAGE}${returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : ''}`;
  // The page's CSP allows no style sheet beyond its own inline one: styled like the provider buttons.
  return `<p><a href="${escapeHtml(href)}" style="display:block;text-align:center;padding:.6rem 1rem;border:1px solid var(--border);border-radius:6px;text-decoration:none">Sign in with a passkey</a></p>`;
}
