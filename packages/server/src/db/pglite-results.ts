import { messages, protocol, types } from '@electric-sql/pglite';
import type { QueryResultLike } from './pglite-thread.js';

/**
 * Reads what PostgreSQL answered to prepared executions (Bind and Execute each, one Sync) straight
 * from the bytes: each DataRow becomes a row, each CommandComplete ends a statement's result.
 *
 * PGlite's own reader decodes every message into an object, copying each field's bytes first, and
 * then builds the rows from those objects: on the embedded database that cost more than running a
 * small indexed read. Here a field is decoded once, from the output buffer, by the column's parser.
 *
 * An ErrorResponse anywhere is thrown as PGlite would throw it (its `DatabaseError`, the first one),
 * by handing the whole output to PGlite's reader: errors are rare, and they keep every field.
 */

type FieldParser = (text: string, typeId: number) => unknown;

/** What a prepared statement returns: its columns' names and type OIDs, and how to read each. */
export interface Columns {
  names: string[];
  typeIds: number[];
  parsers: (FieldParser | null)[];
}

type BackendMessage = { name: string };
interface RowDescription extends BackendMessage {
  fields: { name: string; dataTypeID: number }[];
}

/** The columns named by a statement's Describe, or null when it returns no rows. */
export function columnsOf(described: BackendMessage[], parsers: Record<number, FieldParser>): Columns | null {
  const description = described.find((m): m is RowDescription => m.name === 'rowDescription');
  if (!description) return null;
  const defaults = types.parsers as Record<number, FieldParser>;
  return {
    names: description.fields.map((f) => f.name),
    typeIds: description.fields.map((f) => f.dataTypeID),
    parsers: description.fields.map((f) => parsers[f.dataTypeID] ?? defaults[f.dataTypeID] ?? null),
  };
}

const DATA_ROW = 0x44; // 'D'
const COMMAND_COMPLETE = 0x43; // 'C'
const ERROR_RESPONSE = 0x45; // 'E'
/** Commands whose tag ends in the number of rows they changed. */
const CHANGES = new Set(['INSERT', 'UPDATE', 'DELETE', 'COPY', 'MERGE']);

/** One result per statement, in order; throws the first database error. */
export function readResults(output: Uint8Array, columns: (Columns | null)[]): QueryResultLike[] {
  const buf = Buffer.from(output.buffer, output.byteOffset, output.byteLength);
  const results: QueryResultLike[] = [];
  let rows: Record<string, unknown>[] = [];
  let at = 0;
  while (at + 5 <= buf.length) {
    const type = buf[at]!;
    const end = at + 1 + buf.readInt32BE(at + 1);
    if (type === DATA_ROW) {
      rows.push(readRow(buf, at + 5, columns[results.length] ?? null));
    } else if (type === COMMAND_COMPLETE) {
      const tag = buf.toString('utf8', at + 5, end - 1).split(' ');
      const count = Number.parseInt(tag[tag.length - 1]!, 10);
      results.push({ rows, affectedRows: CHANGES.has(tag[0]!) && !Number.isNaN(count) ? count : 0 });
      rows = [];
    } else if (type === ERROR_RESPONSE) {
      throw firstError(output);
    }
    at = end;
  }
  return results;
}

function readRow(buf: Buffer, at: number, columns: Columns | null): Record<string, unknown> {
  if (!columns) throw new Error('the database returned rows for a statement that has no columns');
  const count = buf.readInt16BE(at);
  let p = at + 2;
  const row: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    const length = buf.readInt32BE(p);
    p += 4;
    const name = columns.names[i]!;
    if (length < 0) {
      row[name] = null;
      continue;
    }
    const text = buf.toString('utf8', p, p + length);
    p += length;
    const parse = columns.parsers[i];
    row[name] = parse ? parse(text, columns.typeIds[i]!) : text;
  }
  return row;
}

function firstError(output: Uint8Array): Error {
  let error: Error | null = null;
  new protocol.Parser().parse(output, (m: unknown) => {
    if (!error && m instanceof messages.DatabaseError) error = m;
  });
  return error ?? new Error('the database answered with an error it did not describe');
}
