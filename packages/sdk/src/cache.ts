/**
 * A bounded map with per-entry expiry: at the cap the oldest entry goes first. Reads drop expired
 * entries. Used for verification results: introspection answers keyed by the SHA-256 of the token
 * and the org a request named, verified JWTs by their signature (see `VERIFIED_TTL_MS`).
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; until: number }>();

  constructor(
    readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  get(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: V, ttlMs: number): void {
    if (this.maxEntries <= 0 || ttlMs <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, until: this.now() + ttlMs });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Drops every entry whose value (or key) matches; returns how many went. Walks the whole map. */
  deleteWhere(match: (value: V, key: string) => boolean): number {
    let n = 0;
    for (const [k, e] of this.#entries) {
      if (match(e.value, k)) {
        this.#entries.delete(k);
        n++;
      }
    }
    return n;
  }

  /** Shortens every entry that would live longer than `ttlMs` from now to exactly that. */
  capTtl(ttlMs: number): void {
    const until = this.now() + ttlMs;
    for (const e of this.#entries.values()) if (e.until > until) e.until = until;
  }

  get size(): number {
    return this.#entries.size;
  }
}
