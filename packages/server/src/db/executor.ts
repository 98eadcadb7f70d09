import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/**
 * What a query runs on: a Kysely handle (the database) or a transaction opened on it. Every
 * storage function takes one first, so the caller decides the transaction boundary: pass the
 * `trx` to run the query inside it, the database to run it on its own.
 */
export type Executor = Kysely<Database> | Transaction<Database>;
