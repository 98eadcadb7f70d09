/** URI schemes: which may be a native app's own (RFC 8252 §7.1). */

/**
 * Schemes that are not an app's own: they run code, read local or inline content, or belong to a
 * browser, the web or another protocol. A redirect there would hand the code to something else.
 */
const NOT_PRIVATE_USE = new Set([
  'javascript',
  'vbscript',
  'data',
  'file',
  'blob',
  'about',
  'filesystem',
  'view-source',
  'jar',
  'intent',
  'chrome',
  'chrome-extension',
  'moz-extension',
  'safari-extension',
  'ms-browser-extension',
  'edge',
  'resource',
  'http',
  'https',
  'ws',
  'wss',
  'ftp',
  'mailto',
  'tel',
  'sms',
  'urn',
]);

/**
 * Whether `scheme` (lowercase, without ":") may be a native app's private-use scheme. RFC 8252
 * §7.1 asks for a reverse domain name (`com.example.app`); the MCP hosts people use register
 * single-label schemes of their own (`cursor`, `vscode`), so any RFC 3986 scheme is taken except
 * those above.
 */
export function isPrivateUseScheme(scheme: string): boolean {
  return /^[a-z][a-z0-9+.-]{0,63}$/.test(scheme) && !NOT_PRIVATE_USE.has(scheme);
}
