import type { Cache } from '../cache/index.js';
import type { ChangeLog } from '../cache/types.js';
import type { OrgContext, Principal } from './principal.js';
import {
  LOG_PAGE,
  REPLAY_INTERVAL_MS,
  type RevocationLogReader,
  type RevocationReplay,
  revocationReplay,
} from './revocation-replay.js';

/** Positive entries live at most this long (and never past the credential's own expiry). */
export const AUTH_CACHE_POSITIVE_TTL_MS = 30_000;
/** Unknown credentials are remembered this long, so floods of bad tokens do not reach the database. */
export const AUTH_CACHE_NEGATIVE_TTL_MS = 5_000;
export const AUTH_CACHE_DEFAULT_ENTRIES = 10_000;
const CHANNEL = 'auth:changes';
/** A node that has not read the shared log for this long forgets everything it cached. */
const LOG_SILENCE_MS = 60_000;

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
 * first), short-lived, and invalidated on every node before a change's response is sent:
 *
 * - `changed()` drops the affected entries here and appends the change to the shared change log
 *   (a Redis stream) before it returns; the change is also written to the database's
 *   `revocation_events` (via `onChange`).
 * - Every request that may use a cached credential first calls `sync()`, which reads the shared
 *   log from this node's position (one round trip, pipelined with the rate limiter's) and applies
 *   what it finds. A request that arrives after a change's response therefore sees it.
 * - When the shared log cannot be read or a connection to it is lost, the node serves no cached
 *   positive (every credential is checked in the database) until it has read the log again and
 *   replayed the database's revocation log from its own cursor. That replay also runs every
 *   second, so a change whose announcement failed reaches every node anyway; `changed()` then
 *   marks the request's response as not yet in force everywhere.
 *
 * With the in-process cache (one node) only the local part applies. Database errors are never
 * cached (callers only store results).
 */
export class AuthCache {
  readonly #credentials = new Map<string, Entry<CachedCredential | null>>();
  readonly #memberships = new Map<string, Entry<OrgContext[]>>();
  readonly #clients = new Map<string, Entry<unknown>>();
  #unsubscribe: (() => Promise<void>) | null = null;
  #generation = 0;
  readonly #log: ChangeLog | null;
  /** Position in the shared change log up to which this node has applied every entry. */
  #cursor = '0-0';
  /** The database revocation log's replay (`revocation-replay.ts`). */
  #replay: RevocationReplay | null = null;
  #replayTimer: NodeJS.Timeout | null = null;
  /**
   * Event sequence: a successful log read (by the sequence number taken when it started), a loss,
   * and a completed recovery. Cached positives are served only when both the latest successful
   * read and the latest recovery are newer than the latest loss.
   */
  #seq = 0;
  #readOk = 0;
  #lost = 0;
  #recovered = 0;
  #lastReadAt = 0;
  #onError: ((what: string, err: unknown) => void) | null = null;

  constructor(
    private readonly bus: Cache,
    readonly maxEntries: number = AUTH_CACHE_DEFAULT_ENTRIES,
    private readonly now: () => number = Date.now,
  ) {
    this.#log = bus.changeLog;
  }

  get enabled(): boolean {
    return this.maxEntries > 0;
  }

  /** Whether `sync()` has anything to do: a shared change log, and a cache to keep current. */
  get syncs(): boolean {
    return this.#log !== null && this.enabled;
  }

  /**
   * Subscribes to changes and, with a shared cache, takes this node's positions in the shared
   * log and in the database's revocation log (`replay`), then replays that log every second.
   */
  async start(
    opts: { replay?: RevocationLogReader; onError?: (what: string, err: unknown) => void } = {},
  ): Promise<void> {
    this.#onError = opts.onError ?? null;
    this.#unsubscribe = await this.bus.subscribe(CHANNEL, (message) => {
      try {
        this.apply(JSON.parse(message) as AuthChange);
      } catch {
        // Not ours; ignore.
      }
    });
    if (!this.#log) return;
    this.#log.onLost(() => this.#loss());
    const replay = opts.replay
      ? revocationReplay(
          opts.replay,
          (c) => this.apply(c),
          () => this.now(),
        )
      : null;
    this.#replay = replay;
    const seq = ++this.#seq;
    this.#cursor = await this.#log.end();
    if (replay) await replay.begin();
    this.#readOk = seq;
    this.#recovered = seq;
    this.#lastReadAt = this.now();
    if (replay) {
      this.#replayTimer = setInterval(() => void replay.run().catch(() => {}), REPLAY_INTERVAL_MS);
      this.#replayTimer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.#replayTimer) clearInterval(this.#replayTimer);
    this.#replayTimer = null;
    const off = this.#unsubscribe;
    this.#unsubscribe = null;
    // The cache may already be gone (shutdown order, lost Redis): there is nothing left to leave.
    await off?.().catch(() => {});
  }

  /**
   * Brings this node up to date with the shared change log. Call it once a request has arrived
   * and before it reads a credential; it never throws (a failure makes the cache untrusted).
   */
  async sync(): Promise<void> {
    const log = this.#log;
    if (!log || !this.enabled) return;
    const seq = ++this.#seq;
    try {
      if (this.now() - this.#lastReadAt > LOG_SILENCE_MS) {
        // The log may have dropped entries this node never read: start afresh.
        this.#cursor = await log.end();
        this.#dropAll();
      }
      for (;;) {
        const from = this.#cursor;
        const entries = await log.read(from, LOG_PAGE);
        for (const e of entries) this.#applyMessage(e.message);
        const last = entries[entries.length - 1];
        if (last && streamIdAfter(last.id, this.#cursor)) this.#cursor = last.id;
        if (entries.length < LOG_PAGE) break;
      }
      this.#readOk = Math.max(this.#readOk, seq);
      this.#lastReadAt = this.now();
      if (this.#recovered <= this.#lost) await this.#recover();
    } catch (err) {
      this.#loss();
      this.#onError?.('the shared change log could not be read', err);
    }
  }

  /** Whether cached positives may be served: the shared log is current and nothing was missed. */
  get trusted(): boolean {
    if (!this.#log) return true;
    return this.#readOk > this.#lost && this.#recovered > this.#lost;
  }

  #loss(): void {
    this.#lost = ++this.#seq;
  }

  /** After a loss: replay the database's log (one at a time), then trust the cache again. */
  async #recover(): Promise<void> {
    const seq = ++this.#seq;
    await this.#replay?.run();
    // Client entries have no row in the database's log: forget them all.
    this.#clients.clear();
    this.#generation++;
    this.#recovered = Math.max(this.#recovered, seq);
  }

  #applyMessage(message: string): void {
    try {
      this.apply(JSON.parse(message) as AuthChange);
    } catch {
      // Not ours; ignore.
    }
  }

  #dropAll(): void {
    this.#generation++;
    this.#credentials.clear();
    this.#memberships.clear();
    this.#clients.clear();
  }

  /** undefined: not cached (or not to be trusted now); null: known not to be a live credential. */
  credential(hash: string): CachedCredential | null | undefined {
    const e = this.#credentials.get(hash);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.#credentials.delete(hash);
      return undefined;
    }
    // A negative answer is safe to repeat; a positive one only while this node is current.
    if (e.value !== null && !this.trusted) return undefined;
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
    return this.trusted ? e.value : undefined;
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
    return this.trusted ? (e.value as T) : undefined;
  }

  putClient(id: string, value: unknown, generation: number): void {
    if (!this.enabled || generation !== this.#generation) return;
    this.#put(this.#clients, id, { value, until: this.now() + AUTH_CACHE_POSITIVE_TTL_MS });
  }

  /** Called after every change this node makes (e.g. to append it to the revocation log). */
  onChange: ((change: AuthChange) => Promise<void>) | null = null;

  #unannounced = 0;
  /**
   * How many changes this node committed but could not announce to the others since it started.
   * A request that sees it grow while it runs says, in its response, that a change may not yet be
   * in force everywhere (the HTTP layer compares it before and after; no per-request context is
   * carried through the code that makes changes).
   */
  get unannounced(): number {
    return this.#unannounced;
  }

  /**
   * Drops what `change` affects on this node and tells every other node, after the change was
   * committed. Returns once the change is in the shared log, so every node's next request sees
   * it. It never fails the request that made the change: when the announcement cannot be made,
   * the other nodes learn it from the database's revocation log within a second, and the
   * request's response says so (`unannounced`).
   */
  async changed(change: AuthChange): Promise<void> {
    this.apply(change);
    // Logged before it is announced, so a reader woken by the announcement finds it.
    await this.onChange?.(change).catch((err: unknown) => this.#onError?.('the revocation log', err));
    const message = JSON.stringify(change);
    try {
      if (this.#log) await this.#log.append(CHANNEL, message);
      else await this.bus.publish(CHANNEL, message);
    } catch (err) {
      this.#onError?.('a credential change could not be announced to the other nodes', err);
      this.#unannounced++;
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

/** Whether Redis stream id `a` (`ms-seq`) comes after `b`. */
function streamIdAfter(a: string, b: string): boolean {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm);
  return d !== 0n ? d > 0n : BigInt(as) > BigInt(bs);
}
