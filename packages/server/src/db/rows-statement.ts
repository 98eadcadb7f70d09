import type { CompiledQuery } from 'kysely';
import type { Executor } from './executor.js';

/**
 * A statement (built once: `db/built-once.ts`) whose one value is a JSON array of rows and which
 * answers, for each row it wrote or found, the row's 1-based position in that array as `n` (an
 * int4), with whatever else it returns. Rows must be independent: what the statement does with one
 * may not depend on another in the same array. Several callers' arrays can then be joined and run
 * as one execution (`executeRows` for writes, `readRows` for reads), each caller answered its own.
 */
export interface RowsStatement<R extends object = object> {
  bind(values: { rows: string }, db: Executor): CompiledQuery<R & { n: number }>;
}

/** A caller's rows: its JSON array and how many rows it holds. */
export interface RowsPart {
  json: string;
  count: number;
}

/** The parts' arrays as one, in order (each array without its brackets, joined). */
export function joinRows(parts: readonly RowsPart[]): string {
  return `[${parts.map((p) => p.json.slice(1, -1)).join(',')}]`;
}

/**
 * The answer to a joined run, split back by part: each part's rows, `n` counted in its own array.
 */
export function splitRows<R extends { n: number }>(rows: readonly R[], parts: readonly RowsPart[]): R[][] {
  const out: R[][] = parts.map(() => []);
  const ends: number[] = [];
  let end = 0;
  for (const p of parts) ends.push((end += p.count));
  for (const row of rows) {
    const n = Number(row.n);
    let at = 0;
    while (ends[at]! < n) at++;
    out[at]!.push(Object.assign(row, { n: n - (at === 0 ? 0 : ends[at - 1]!) }));
  }
  return out;
}
