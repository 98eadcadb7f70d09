/** Replay of the database's revocation log: each node's cursor over it, and the id gaps it waits on. */
import type { AuthChange } from './credential-cache.js';

/** Entries read from a change log (the shared one, or the database's revocation log) per round trip. */
export const LOG_PAGE = 500;
/** How often each node reads the database's revocation log for changes the shared log missed. */
export const REPLAY_INTERVAL_MS = 1_000;
/** A gap in the revocation log's ids older than this is a rolled-back insert, not one in flight. */
const GAP_GRACE_MS = 10_000;

/** One row of the database's revocation log, as the replay reads it. */
export interface LoggedChange {
  readonly id: string;
  readonly change: AuthChange;
}

/** Reads the database's revocation log: rows after id `after`, oldest first, and its last id. */
export interface RevocationLogReader {
  after(after: string, limit: number): Promise<LoggedChange[]>;
  end(): Promise<string>;
}

/** One node's replay of the database's revocation log. */
export interface RevocationReplay {
  /** Takes this node's position: the log's last id (what came before is not replayed). */
  begin(): Promise<void>;
  /** Applies the log's rows after this node's cursor. */
  run(): Promise<void>;
}

/** A replay over `reader` that hands every row it reads to `apply`. */
export function revocationReplay(
  reader: RevocationLogReader,
  apply: (change: AuthChange) => void,
  now: () => number,
): RevocationReplay {
  /** This node's cursor, and gaps below it not seen yet. */
  let dbCursor = '0';
  const gaps = new Map<string, number>();
  let replaying: Promise<void> | null = null;

  /**
   * Moves the database cursor over the rows read, but never past an id not seen yet that an
   * insert still in flight may fill (a sequence hands out ids before their rows commit); a gap
   * that stays open for `GAP_GRACE_MS` was a rolled-back insert.
   */
  const advanceDbCursor = (rows: readonly LoggedChange[]): void => {
    let cursor = BigInt(dbCursor);
    const at = now();
    const seen = new Set(rows.map((r) => BigInt(r.id)));
    const top = rows.reduce((m, r) => (BigInt(r.id) > m ? BigInt(r.id) : m), cursor);
    for (let id = cursor + 1n; id <= top; id++) {
      if (seen.has(id)) {
        if (cursor === id - 1n) cursor = id;
        continue;
      }
      const key = String(id);
      const since = gaps.get(key) ?? at;
      gaps.set(key, since);
      if (cursor === id - 1n && at - since >= GAP_GRACE_MS) {
        gaps.delete(key);
        cursor = id;
      }
    }
    for (const k of gaps.keys()) if (BigInt(k) <= cursor) gaps.delete(k);
    dbCursor = String(cursor);
  };

  return {
    async begin() {
      dbCursor = await reader.end();
    },

    async run() {
      // A replay started before this call may have missed rows committed since: queue one more.
      const once = async (): Promise<void> => {
        for (;;) {
          const rows = await reader.after(dbCursor, LOG_PAGE);
          advanceDbCursor(rows);
          for (const r of rows) apply(r.change);
          if (rows.length < LOG_PAGE) return;
        }
      };
      const previous = replaying;
      const mine: Promise<void> = (previous ? previous.catch(() => {}) : Promise.resolve()).then(once);
      replaying = mine;
      try {
        await mine;
      } finally {
        if (replaying === mine) replaying = null;
      }
    },
  };
}
