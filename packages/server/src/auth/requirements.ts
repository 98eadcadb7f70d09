import { ApiError } from '../errors.js';
import type { CredentialKind, Principal } from './principal.js';

/** What a route may require of its caller, checked before its handler runs (see `app.ts`). */

/** A credential kind the route does not take: refused, whatever it holds. */
export function requireCredentialKind(principal: Principal, kinds: readonly CredentialKind[]): void {
  if (kinds.includes(principal.kind)) return;
  if (kinds.length === 1 && kinds[0] === 'session')
    throw new ApiError('session_required', 'This needs a browser session.');
  throw new ApiError('credential_not_accepted', `This takes only: ${kinds.join(', ')}.`, {
    extra: { accepted: [...kinds] },
  });
}

/**
 * A person-level scope. `account:read` is implied by `account:write`. `account:write` is honoured
 * only from a browser session or a personal token that a session minted holding it: an OAuth
 * token, a token minted by another token, or a service credential never changes the account.
 */
export function requireAccountScope(
  principal: Principal,
  scope: 'orgs:create' | 'account:read' | 'account:write',
): void {
  // A credential that is no person has no account: reading `me` shows it only itself.
  if (!principal.user && scope === 'account:read') return;
  if (!principal.user) throw new ApiError('forbidden', 'This needs a credential that acts as a person.');
  if (scope === 'account:write') {
    if (principal.kind === 'session') return;
    if (principal.kind !== 'pat' || !principal.fromSession)
      throw new ApiError(
        'session_required',
        'Changing the account needs a browser session, or a personal token created in one with account:write.',
      );
    requireScope(principal, 'account:write');
    return;
  }
  if (scope === 'account:read' && principal.scopes?.includes('account:write')) return;
  requireScope(principal, scope);
}

export function requireScope(principal: Principal, scope: string): void {
  if (principal.scopes !== null && !principal.scopes.includes(scope)) {
    throw new ApiError('forbidden', `The credential lacks the ${scope} scope.`, { extra: { scope } });
  }
}
