/// <reference path="./helpers/stand-ins/oidc-provider.d.ts" />
/**
 * `@latchkey/server/testing`: what the other packages' tests (SDK, CLI, dashboard, examples) may use
 * of the server — the harness that starts a real Latchkey over fresh storage, the stand-ins it
 * brings (mail outbox, DNS, an OpenID provider, a webhook receiver) and the few server functions a
 * test needs to set a scene (a TOTP code, a signing-key rotation, a raw storage handle). They reach
 * the server through this module only (`scripts/check-imports.mjs`, rule `package`), so a change
 * inside the server breaks them here, in one place.
 */
export {
  DEFAULT_PASSWORD,
  lastMailTo,
  linkIn,
  PUBLIC_URL,
  readOutbox,
  testServer,
  type TestServer,
  type TestServerOptions,
  tokenFrom,
  uniqueEmail,
} from './helpers/harness.js';
export { setTxt } from './helpers/dns.js';
export { BACKEND, openTestStorage, type TestStorage } from './helpers/storage.js';
export {
  authorizeUrl,
  form,
  formFields,
  MCP_ID,
  MCP_SECRET,
  MCP_URL,
  OAUTH_TOML,
  OTHER_URL,
  pkce,
  tokensFor,
} from './oauth/helpers.js';
export { type GoogleStandIn, startGoogle } from './helpers/stand-ins/google.js';
export { mintPat, orgWithRoles } from './tokens/helpers.js';
export { type Receiver, startReceiver, verified } from './webhooks/helpers.js';

export { totpCode } from '../src/accounts/mfa/totp.js';
export { audit } from '../src/audit/log.js';
export { openCache } from '../src/cache/index.js';
export { openStorage } from '../src/db/connection.js';
export { newId } from '../src/lib/secrets.js';
export { rotateKey } from '../src/oauth/oidc/keys.js';
export { usageCounterOf } from '../src/tokens/usage-routes.js';
