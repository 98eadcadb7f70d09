/**
 * The budgets Latchkey attaches to a credential, as introspection answers them: `limits`, an object
 * of `{"<name>": {"limit": n, "period": "day" | "month"}}` (each `[agent_plans.*]` limit of an
 * agent key), and, from older servers, a top-level `mcp_calls_per_day`. This module only reads
 * them; `createQuota` enforces one. It does not check that a name is one the resource knows.
 */

/** The window a budget renews in: the UTC day, or the calendar month in UTC. */
export type QuotaPeriod = 'day' | 'month';

export const QUOTA_PERIODS: readonly QuotaPeriod[] = ['day', 'month'];

/** Limits one answer may carry; more is malformed (a bounded principal). */
export const MAX_LIMITS = 50;
const NAME_RE = /^[a-z][a-z0-9_]{0,63}$/;

export interface ParsedLimits {
  /** Every budget by name. */
  readonly limits: Readonly<Record<string, number>>;
  /** The period of each budget Latchkey named one for. */
  readonly periods: Readonly<Record<string, QuotaPeriod>>;
}

/**
 * The period a limit's name implies: `…_per_month` → month, `…_per_day` → day; null otherwise.
 */
export function periodOfName(name: string): QuotaPeriod | null {
  return name.endsWith('_per_month') ? 'month' : name.endsWith('_per_day') ? 'day' : null;
}

/**
 * Reads the budgets of an introspection answer; null when there are none. Throws `TypeError` for
 * an answer that cannot be read safely (the verifier then reports Latchkey as unavailable).
 */
export function parseLimits(b: Record<string, unknown>): ParsedLimits | null {
  const limits: Record<string, number> = {};
  const periods: Record<string, QuotaPeriod> = {};
  const count = (v: unknown) => {
    if (!Number.isSafeInteger(v) || (v as number) < 0) throw new TypeError('a limit is not a count');
    return v as number;
  };
  if (b.mcp_calls_per_day !== undefined && b.mcp_calls_per_day !== null) {
    limits.mcp_calls_per_day = count(b.mcp_calls_per_day);
    periods.mcp_calls_per_day = 'day';
  }
  if (b.limits !== undefined && b.limits !== null) {
    if (typeof b.limits !== 'object' || Array.isArray(b.limits))
      throw new TypeError('limits is not an object');
    const entries = Object.entries(b.limits as Record<string, unknown>);
    if (entries.length > MAX_LIMITS) throw new TypeError('too many limits');
    for (const [name, v] of entries) {
      if (!NAME_RE.test(name) || typeof v !== 'object' || v === null)
        throw new TypeError('a limit is malformed');
      const l = v as { limit?: unknown; period?: unknown };
      if (!QUOTA_PERIODS.includes(l.period as QuotaPeriod))
        throw new TypeError('a limit has no known period');
      limits[name] = count(l.limit);
      periods[name] = l.period as QuotaPeriod;
    }
  }
  if (Object.keys(limits).length === 0) return null;
  return { limits: Object.freeze(limits), periods: Object.freeze(periods) };
}
