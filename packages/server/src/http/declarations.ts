import { CREDENTIAL_KINDS } from '../auth/principal.js';
import type { RouteNeeds } from './types.js';

/**
 * Build-time check of a route's declaration: every authenticated route says what it needs.
 * Returns why the declaration is not acceptable, or null.
 */
export function declarationProblem(mode: string, needs: RouteNeeds): string | null {
  if (mode === 'none') return null;
  if (
    needs.credentials &&
    (needs.credentials.length === 0 || needs.credentials.some((k) => !CREDENTIAL_KINDS.includes(k)))
  )
    return 'config.credentials must list known credential kinds';
  if (mode === 'org' && !needs.permission) return 'an org route must declare config.permission';
  if (!needs.permission && !needs.scope && !needs.credentials)
    return 'declare config.permission, config.scope or config.credentials';
  return null;
}
