import type { Deps } from '../deps.js';
import type { App } from '../http/types.js';
import { ssoConnectionRoutes } from './admin-routes.js';
import { ssoBrowserRoutes } from './browser-routes.js';
import { ssoSettingsRoutes } from './settings-routes.js';

/**
 * SSO per org: the admin API under `/api/v1/org/sso` (JSON only), and the browser endpoints under
 * `/api/sso` in their own scope (the ACS parses form bodies; nothing else does).
 */
export async function ssoRoutes(app: App, deps: Deps): Promise<void> {
  ssoConnectionRoutes(app, deps);
  ssoSettingsRoutes(app, deps);
  await app.register(async (scope) => ssoBrowserRoutes(scope as unknown as App, deps));
}
