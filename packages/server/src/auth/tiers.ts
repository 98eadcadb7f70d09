import {
  type Authenticator,
  type CredentialRequest,
  invalidCredential,
  type Principal,
  type TierDeps,
} from './principal.js';

/**
 * The authentication tiers, in their order: 1. the browser session cookie
 * (`accounts/session-tier.ts`), 2. Latchkey API tokens — lk_pat_, lk_svc_, lk_org_, lk_svc_agent_
 * (`tokens/authenticate.ts`), 3. OAuth access tokens for Latchkey's own API
 * (`oauth/validate.ts`), 4. the ADMIN_TOKEN break-glass credential (`admin-token.ts`). Each tier
 * lives beside its credential; the composition root (`app.ts`) hands them in by name and this
 * file alone orders them. The first that recognises the credential decides.
 */
export const TIER_ORDER = ['session', 'apiToken', 'oauth', 'adminToken'] as const;

export type Tiers = Readonly<Record<(typeof TIER_ORDER)[number], Authenticator>>;

/** The tiers as a list, in `TIER_ORDER`. */
export const orderedTiers = (tiers: Tiers): readonly Authenticator[] => TIER_ORDER.map((name) => tiers[name]);

/** Runs the tiers in order. A credential nobody recognises is a 401, never anonymous access. */
export async function authenticate(
  req: CredentialRequest,
  deps: TierDeps,
  tiers: readonly Authenticator[],
): Promise<Principal | null> {
  for (const tier of tiers) {
    const p = await tier(req, deps);
    if (p) return p;
  }
  if (req.headers.authorization !== undefined) throw invalidCredential();
  return null;
}
