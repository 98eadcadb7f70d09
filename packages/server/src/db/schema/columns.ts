/** Column types the table types share: timestamps and JSON columns. */
import type { ColumnType } from 'kysely';

export type Timestamp = ColumnType<Date, Date, Date>;
export type Json = ColumnType<unknown, string | undefined, string>;

export type JsonOf<T> = ColumnType<T, string, string>;
