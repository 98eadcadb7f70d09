/**
 * The vocabulary of authorisation: what a request may do inside an org (permissions, which roles
 * grant: the table is `orgs/roles.ts`) and what a credential may do for its person (account scopes).
 * The lists are the wire contract's (`@latchkey/contract`), which the CLI and the dashboard read
 * too: a permission or scope is added there, once.
 */
export { ACCOUNT_SCOPES, PERMISSIONS } from '@latchkey/contract';
export type { AccountScope, Permission } from '@latchkey/contract';
