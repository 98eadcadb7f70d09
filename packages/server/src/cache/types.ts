/**
 * The one cache interface: a small key/value store with TTLs, atomic consume and counters, plus
 * publish/subscribe for fan-out between nodes. Memory (single node) and Redis (shared) implement it.
 * Values are strings; callers serialise.
 */
export interface Cache {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Atomically returns the value and deletes it: a second caller gets null. */
  getDel(key: string): Promise<string | null>;
  /** Adds 1 (creating the key at 0); the TTL is set when the key is created. */
  incr(key: string, ttlMs?: number): Promise<number>;
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once the subscription is live; the returned function unsubscribes. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  /** A fixed-window limiter over this cache, shared across nodes when the cache is. */
  limiter(opts: LimiterOptions): RateLimiter;
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * The ordered log of credential changes that every node reads before it trusts its own cache;
   * null for the in-process cache (one node, nothing to share).
   */
  readonly changeLog: ChangeLog | null;
}

/** One entry of the change log: its position and the message appended. */
export interface ChangeLogEntry {
  readonly id: string;
  readonly message: string;
}

/**
 * An append-only, ordered log shared by every node (a Redis stream). Entries are kept for
 * `CHANGE_LOG_RETAIN_MS`; a reader that fell further behind must drop what it derived from it.
 */
export interface ChangeLog {
  /** Stores `message` at the end of the log and announces it on `channel`; resolves once stored. */
  append(channel: string, message: string): Promise<void>;
  /**
   * Up to `count` entries after position `after`, oldest first. Callers in one turn that ask for
   * the same position may share one answer (read after all of them asked), so do not change it.
   */
  read(after: string, count: number): Promise<readonly ChangeLogEntry[]>;
  /** The position of the last entry (`0-0` when the log is empty). */
  end(): Promise<string>;
  /** Calls `listener` whenever a connection to the shared store is lost (commands or subscription). */
  onLost(listener: () => void): void;
}

export interface LimiterOptions {
  /** Distinguishes limiters sharing one cache. */
  name: string;
  /** Allowed events per window. */
  points: number;
  windowSeconds: number;
}

export type LimitResult =
  { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Counts one event for `key`. */
  consume(key: string): Promise<LimitResult>;
  /** Whether `key` is already over its budget, without counting. */
  check(key: string): Promise<LimitResult>;
  /** Forgets `key` (e.g. after a successful sign-in). */
  reset(key: string): Promise<void>;
}
