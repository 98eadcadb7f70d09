import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { Permission } from '../orgs/roles.js';
import type { OrgContext, Principal } from './auth.js';

/** The Fastify instance route modules register on: typed by TypeBox schemas. */
export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/**
 * none     – no credential looked at (public, or the handler authenticates itself)
 * optional – a credential is used when present
 * user     – a credential is required; the org is resolved when named or defaulted
 * org      – a credential and an org are required; `permission` is checked for the caller's role
 */
export type AuthMode = 'none' | 'optional' | 'user' | 'org';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
    permission?: Permission;
    /** A scope a scoped credential must carry for a person-level route (e.g. `orgs:create`). */
    scope?: string;
    /** Origin check on unsafe cookie-borne requests; only OAuth's bearer/client-auth routes opt out. */
    csrf?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
    org: OrgContext | null;
  }
}
