import type { Deps } from '../../deps.js';
import type { App } from '../../http/types.js';
import { factorRoutes } from './factor-routes.js';
import { orgMfaRoutes } from './org-routes.js';
import { passkeyRoutes } from './passkey-routes.js';
import { secondFactorSigninRoutes } from './signin-routes.js';
import { stepUpRoutes } from './step-up-routes.js';

/**
 * Second factors: finishing a pending sign-in (`/api/auth/second-factor*`), passwordless passkey
 * sign-in (`/api/auth/passkey*`), the account's factors (`/api/v1/me/mfa*`, `/api/v1/me/passkeys*`),
 * step-up (`/api/v1/me/step-up*`) and an org's requirement (`/api/v1/org/mfa`).
 */
export function mfaRoutes(app: App, deps: Deps): void {
  secondFactorSigninRoutes(app, deps);
  factorRoutes(app, deps);
  passkeyRoutes(app, deps);
  stepUpRoutes(app, deps);
  orgMfaRoutes(app, deps);
}
