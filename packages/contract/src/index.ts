/**
 * `@latchkey/contract`: what Latchkey's server and its clients (the CLI, the dashboard) agree on
 * over the wire, written once. Types, and the vocabularies as constant lists with their unions;
 * no logic, and it imports nothing.
 */
export * from './errors.js';
export * from './vocabulary.js';
export type * from './wire.js';
export type * from './wire-admin.js';
