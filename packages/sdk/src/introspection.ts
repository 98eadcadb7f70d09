/** Latchkey's introspection answer (RFC 7662), read and checked into a verdict. */
import { type ParsedLimits, parseLimits } from './limits.js';
import { type Principal, type TokenKind, VerifyError } from './principal.js';

/** A verdict: an active token's principal and audience, or inactive. */
export type Result = { active: true; principal: Principal; aud: readonly string[] } | { active: false };

const KINDS: ReadonlySet<string> = new Set<TokenKind>(['oauth', 'pat', 'svc', 'org', 'svc_agent']);

export const malformed = () =>
  new VerifyError('unavailable', "Latchkey's introspection answer is malformed.");

const optionalString = (v: unknown): string | null => {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw malformed();
  return v;
};

/**
 * An RFC 7662 answer as a result. A `token_kind` this SDK does not know is inactive; a missing one
 * means `oauth` (older servers). An answer that cannot be read safely is `unavailable`, not active.
 */
export function resultOf(b: Record<string, unknown>): Result {
  if (b.active !== true) return { active: false };
  const kind = b.token_kind ?? 'oauth';
  if (typeof kind !== 'string' || !KINDS.has(kind)) return { active: false };
  if (typeof b.sub !== 'string' || b.sub === '') throw malformed();
  const aud = b.aud === undefined ? [] : Array.isArray(b.aud) ? b.aud : [b.aud];
  if (!aud.every((a) => typeof a === 'string')) throw malformed();
  if (b.scope !== undefined && typeof b.scope !== 'string') throw malformed();
  const clientId = optionalString(b.client_id);
  const orgId = optionalString(b.org_id);
  const orgSlug = optionalString(b.org_slug);
  const orgRole = optionalString(b.org_role);
  const email = optionalString(b.email);
  const name = optionalString(b.name);
  if (b.exp !== undefined && b.exp !== null && !Number.isFinite(b.exp)) throw malformed();
  const exp = typeof b.exp === 'number' ? b.exp : null;
  // OAuth access tokens always name their client and expire.
  if (kind === 'oauth' && (clientId === null || exp === null)) throw malformed();
  let agent: Principal['agent'];
  if (b.agent !== undefined && b.agent !== null) {
    const a = b.agent as { id?: unknown; claimed?: unknown };
    if (typeof a !== 'object' || typeof a.id !== 'string' || typeof a.claimed !== 'boolean')
      throw malformed();
    agent = Object.freeze({ id: a.id, claimed: a.claimed });
  }
  let budgets: ParsedLimits | null;
  try {
    budgets = parseLimits(b);
  } catch {
    throw malformed();
  }
  const principal: Principal = Object.freeze({
    sub: b.sub,
    email,
    name,
    org_id: orgId,
    org_slug: orgSlug,
    org_role: orgRole,
    client_id: clientId,
    scopes: Object.freeze(typeof b.scope === 'string' ? b.scope.split(' ').filter(Boolean) : []),
    token_kind: kind as TokenKind,
    ...(agent ? { agent } : {}),
    expires_at: exp,
    ...(budgets ? { limits: budgets.limits, limit_periods: budgets.periods } : {}),
  });
  return { active: true, principal, aud: Object.freeze(aud as string[]) };
}
