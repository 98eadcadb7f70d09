import type { Permission } from '../../auth/permissions.js';
import type { OrgContext, Principal } from '../../auth/principal.js';
import { ApiError } from '../../errors.js';
import { ROLE_PERMISSIONS, roleAllows } from '../../orgs/roles.js';
import type { Catalogue } from '../../tokens/catalogue.js';

/** Which scopes an org admin may allow an app: never more than the caller holds. */

const ORG_PERMISSIONS: ReadonlySet<string> = ROLE_PERMISSIONS.owner;

/**
 * The most an app made or edited by `p` in `org` may be allowed: no Latchkey permission the
 * caller's role lacks, and nothing a scoped credential does not hold itself.
 */
export function appScopeCeiling(catalogue: Catalogue, org: OrgContext, p: Principal): string[] {
  return catalogue.allScopes.filter(
    (s) =>
      (!ORG_PERMISSIONS.has(s) || roleAllows(org.role, s as Permission)) &&
      (p.scopes === null || p.scopes.includes(s)),
  );
}

/**
 * The allowed scopes to store: those asked for (refused beyond the ceiling), or the current
 * ones (or, when none are set, everything) cut down to the ceiling. Null: every scope, when the
 * ceiling is the whole catalogue.
 */
export function cappedScopes(
  catalogue: Catalogue,
  ceiling: readonly string[],
  asked: readonly string[] | null | undefined,
  current: readonly string[] | null,
): string[] | null {
  if (asked) {
    const beyond = asked.filter((s) => catalogue.scopes.has(s) && !ceiling.includes(s));
    if (beyond.length)
      throw new ApiError(
        'forbidden',
        `You cannot allow an app scopes you do not hold: ${beyond.join(', ')}.`,
        {
          extra: { scopes: beyond },
        },
      );
    return [...asked];
  }
  const base = current ?? catalogue.allScopes;
  const kept = base.filter((s) => ceiling.includes(s));
  if (current === null && kept.length === catalogue.allScopes.length) return null;
  return kept;
}
