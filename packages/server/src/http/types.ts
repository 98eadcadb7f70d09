import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { Permission } from '../auth/permissions.js';
import type { AccountScope } from '../auth/permissions.js';
import type { CredentialKind, OrgContext, Principal } from '../auth/principal.js';

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

/**
 * What a route needs, declared next to its schema. Every route with `auth` other than 'none'
 * declares at least one of `permission`, `scope` or `credentials`; the onRoute hook refuses to
 * build an app with a route that declares none.
 */
export interface RouteNeeds {
  /** Org routes: the permission the role must allow and a scoped credential must carry. */
  permission?: Permission;
  /**
   * Person routes: `account:read`, `orgs:create`, or `account:write` — the last only from a
   * browser session or a personal token a session minted with `account:write`.
   */
  scope?: AccountScope;
  /** Only these kinds of credential are accepted (e.g. `['session']` for server-rendered pages). */
  credentials?: readonly CredentialKind[];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
    permission?: RouteNeeds['permission'];
    scope?: RouteNeeds['scope'];
    credentials?: RouteNeeds['credentials'];
    /** Origin check on unsafe cookie-borne requests; only OAuth's bearer/client-auth routes opt out. */
    csrf?: boolean;
    /**
     * `'handler'`: the request hook does not read the shared change log; the handler reads it
     * itself before it trusts anything this node cached (the token endpoint, whose client
     * credentials grant proves its cached client current in its own statement instead).
     */
    changeLog?: 'handler';
  }
  interface FastifyRequest {
    principal: Principal | null;
    org: OrgContext | null;
    /**
     * The node's count of unannounced changes when the request reached authentication
     * (`AuthCache.unannounced`); null for a request answered before it (those change nothing).
     */
    unannouncedAtStart: number | null;
  }
}
