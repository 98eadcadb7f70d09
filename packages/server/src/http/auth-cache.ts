import type { Cache } from '../cache/index.js';
import type { OrgContext, Principal } from './auth.js';

/** Positive entries live at most this long (and never past the credential's own expiry). */
export const AUTH_CACHE_POSITIVE_TTL_MS = 30_000;
/** Unknown credentials are remembered this long, so floods of bad tokens do not reach the database. */
export const AUTH_CACHE_NEGATIVE_TTL_MS = 5_000;
export const AUTH_CACHE_DEFAULT_ENTRIES = 10_000;
const CHANNEL = 'auth:changes';

/** What changed: one credential (by hash), everything of one user, or everything of one org. */
export type AuthChange = { token: string } | { user: string } | { org: string } | { client: string };

export interface CachedCredential {
  readonly principal: Principal;
  /** When the credential itself expires (ms since epoch), if it does. */
  readonly expiresAt: number | null;
  /** Row id, for last-used bookkeeping. */
  readonly id: string;
  /** For org-bound credentials: the org and the role the credential holds in it. */
  readonly boundOrg: OrgContext | null;
  /** OAuth tokens: what introspection reports. */
  readonly oauth?: OAuthTokenInfo;
}

/** An OAuth access or refresh token as introspection (RFC 7662) describes it. */
export interface OAuthTokenInfo {
  readonly kind: 'at' | 'rt';
  readonly clientId: string;
  readonly userId: string | null;
  readonly orgId: string;
  /** The audience. */
  readonly resource: string;
  readonly scopes: readonly string[];
  /** Seconds since the epoch. */
  readonly iat: number;
  readonly exp: number;
}

interface Entry<T> {
  value: T;
  until: number;
}

/**
 * Per-node cache of validated credentials and of people's memberships, so that an authenticated
 * request is usually served without a database round trip. Bounded (oldest entries evicted
 * first), short-lived, and invalidated everywhere at once: `changed()` drops the affected entries
 * here and publishes the change on the cache's pub/sub channel, which every node applies before
 * serving its next request. Database errors are never cached (callers only store results).
 */
export class AuthCache {
  readonly #credentials = new Map<string, Entry<CachedCredential | null>>();
  readonly #memberships = new Map<string, Entry<OrgContext[]>>();
  readonly #clients = new Map<string, Entry<unknown>>();
  #unsubscribe: (() => Promise<void>) | null = null;
  #generation = 0;

  constructor(
    private readonly bus: Cache,
    readonly maxEntries: number = AUTH_CACHE_DEFAULT_ENTRIES,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.maxEntries > 0;
  }

  async start(): Promise<void> {
    this.#unsubscribe = await this.bus.subscribe(CHANNEL, (message) => {
      try {
        this.apply(JSON.parse(message) as AuthChange);
      } catch {
        // Not ours; ignore.
      }
    });
  }

  async stop(): Promise<void> {
    const off = this.#unsubscribe;
    this.#unsubscribe = null;
    // The cache may already be gone (shutdown order, lost Redis): there is nothing left to leave.
    await off?.().catch(() => {});
  }

  /** undefined: not cached; null: known not to be a live credential. */
  credential(hash: string): CachedCredential | null | undefined {
    const e = this.#credentials.get(hash);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.#credentials.delete(hash);
      return undefined;
    }
    return e.value;
  }

  /**
   * Take this before reading from the database and pass it to put*: a change applied while the
   * read was in flight makes the result stale, and it is then not cached.
   */
  generation(): number {
    return this.#generation;
  }

  putCredential(hash: string, value: CachedCredential | null, generation: number): void {
    if (!this.enabled || generation !== this.#generation) return;
    const now = this.now();
    const ttl = value ? AUTH_CACHE_POSITIVE_TTL_MS : AUTH_CACHE_NEGATIVE_TTL_MS;
    const until = value?.expiresAt ? Math.min(now + ttl, value.expiresAt) : now + ttl;
    this.#put(this.#credentials, hash, { value, until });
  }

  memberships(userId: string): OrgContext[] | undefined {
    const e = this.#memberships.get(userId);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.#memberships.delete(userId);
      return undefined;
    }
    return e.value;
  }

  putMemberships(userId: string, orgs: OrgContext[], generation: number): void {
    if (!this.enabled || generation !== this.#generation) return;
    this.#put(this.#memberships, userId, { value: orgs, until: this.now() + AUTH_CACHE_POSITIVE_TTL_MS });
  }

  /** An OAuth client by client_id, as stored by `putClient`. Changes to a client publish `{client}`. */
  client<T>(id: string): T | undefined {
    const e = this.#clients.get(id);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.#clients.delete(id);
      return undefined;
    }
    return e.value as T;
  }

  putClient(id: string, value: unknown, generation: number): void {
    if (!this.enabled || generation !== this.#generation) return;
    this.#put(this.#clients, id, { value, until: this.now() + AUTH_CACHE_POSITIVE_TTL_MS });
  }

  /** Called after every change this node makes (e.g. to append it to the revocation log). */
  onChange: ((change: AuthChange) => Promise<void>) | null = null;

  /** Drops what `change` affects on this node and tells every other node to do the same. */
  async changed(change: AuthChange): Promise<void> {
    this.apply(change);
    try {
      // Logged before it is announced, so a reader woken by the announcement finds it.
      await this.onChange?.(change);
    } finally {
      await this.bus.publish(CHANNEL, JSON.stringify(change));
    }
  }

  /** Applies a change on this node only. */
  apply(change: AuthChange): void {
    this.#generation++;
    if ('client' in change) {
      this.#clients.delete(change.client);
    } else if ('token' in change) {
      this.#credentials.delete(change.token);
    } else if ('user' in change) {
      this.#memberships.delete(change.user);
      for (const [k, e] of this.#credentials)
        if (e.value?.principal.user?.id === change.user) this.#credentials.delete(k);
    } else if ('org' in change) {
      for (const [k, e] of this.#memberships)
        if (e.value.some((o) => o.id === change.org)) this.#memberships.delete(k);
      for (const [k, e] of this.#credentials)
        if (e.value?.boundOrg?.id === change.org) this.#credentials.delete(k);
    }
  }

  #put<T>(map: Map<string, Entry<T>>, key: string, entry: Entry<T>): void {
    map.delete(key);
    if (map.size >= this.maxEntries) {
      const oldest = map.keys().next();
      if (!oldest.done) map.delete(oldest.value);
    }
    map.set(key, entry);
  }
}
