import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { accountRoutes } from './accounts/routes.js';
import { secondFactorGate } from './accounts/mfa/gate-routes.js';
import { enforceOrgMfa } from './accounts/mfa/org-policy.js';
import { mfaPageRoutes } from './accounts/mfa/page-routes.js';
import { mfaRoutes } from './accounts/mfa/routes.js';
import { adminAgentRoutes } from './admin/agent-routes.js';
import { adminRoutes } from './admin/routes.js';
import { agentRoutes } from './agents/routes.js';
import { SESSION_COOKIE } from './auth/session-cookie.js';
import { audit } from './audit/log.js';
import { auditRoutes } from './audit/routes.js';
import type { Deps } from './deps.js';
import { appRoutes } from './oauth/manage/apps.js';
import { approvalRoutes } from './oauth/manage/approvals.js';
import { buildCatalogue } from './tokens/catalogue.js';
import { authorizeEndpoint } from './oauth/endpoints/authorize.js';
import { devicePage } from './oauth/endpoints/device-page.js';
import { consentManagementRoutes } from './oauth/manage/consents.js';
import type { OAuthDeps } from './oauth/grants/types.js';
import { recordRevocation, revocationLogReader } from './oauth/store/revocation-log.js';
import { revocationStreamRoutes } from './oauth/endpoints/revocation-stream.js';
import { oauthRoutes } from './oauth/routes.js';
import { oauthAuthenticator } from './oauth/validate.js';
import { createKeyStore } from './oauth/oidc/key-store.js';
import { keyRoutes } from './oauth/oidc/key-routes.js';
import { oidcRoutes } from './oauth/oidc/routes.js';
import { joiningRoutes } from './joining/routes.js';
import { orgRoutes } from './orgs/routes.js';
import { dashboardRoutes } from './pages/dashboard-routes.js';
import { pageRoutes } from './pages/routes.js';
import { scimAdminRoutes } from './scim/admin-routes.js';
import { sendScimError, toScimError } from './scim/error-routes.js';
import { SCIM_PREFIX, scimRoutes } from './scim/routes.js';
import { ssoRoutes } from './sso/routes.js';
import { tokenAuthenticator } from './tokens/authenticate.js';
import { leakRoutes } from './tokens/leaks.js';
import { tokenRoutes } from './tokens/routes.js';
import { usageRoutes } from './tokens/usage-routes.js';
import { webhookRoutes } from './webhooks/routes.js';
import type { Principal } from './auth/principal.js';
import { adminTokenAuthenticator } from './auth/admin-token.js';
import { authenticate, orderedTiers } from './auth/tiers.js';
import { requireAccountScope, requireCredentialKind, requireScope } from './auth/requirements.js';
import { requirePermission, resolveOrg } from './orgs/context.js';
import { sessionAuthenticator } from './accounts/session-tier.js';
import { LazySchemas } from './http/lazy-schemas.js';
import { declarationProblem } from './http/declarations.js';
import { capConnectionsPerAddress } from './http/connections.js';
import { checkSameOrigin, isUnsafe } from './http/csrf.js';
import { ApiError, rateLimited } from './errors.js';
import { sendFrameworkError, sendProblem, toApiError } from './http/errors.js';
import { logCredential, redactUrl, requestLoggerFactory } from './http/logging.js';
import { installMetrics } from './http/metrics.js';
import { opsRoutes } from './http/ops-routes.js';
import {
  documentRoute,
  finishDocument,
  PARSED_BY_HANDLER,
  SECURITY_SCHEMES,
  TAGS,
} from './http/schemas/openapi.js';
import { actorOf, secureTransport } from './http/request.js';
import type { App, AuthMode, RouteNeeds } from './http/types.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;
/** Request headers larger than this are refused with 431. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** A request's headers must arrive within this (and within the request timeout). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** Response header of a request whose credential change is not yet in force on every node. */
export const PROPAGATION_HEADER = 'latchkey-revocation';

/** One row of the authorization table: a route and what it declared it needs. */
export interface DeclaredRoute extends RouteNeeds {
  readonly method: string;
  readonly url: string;
  readonly auth: AuthMode;
  /** Whether the route validates a body. */
  readonly body: boolean;
}

const ROUTE_TABLES = new WeakMap<object, DeclaredRoute[]>();
const LAZY_SCHEMAS = new WeakMap<object, LazySchemas>();

/**
 * Compiles every route schema of an app built by `buildApp` that no request has compiled yet
 * (`http/lazy-schemas.ts`); throws for the first that cannot compile. Returns how many it compiled.
 */
export function compileAllSchemas(app: App): number {
  return LAZY_SCHEMAS.get(app)?.compileAll() ?? 0;
}

/** The authorization table of an app built by `buildApp`: every route with what it needs. */
export function routeTable(app: App): readonly DeclaredRoute[] {
  return ROUTE_TABLES.get(app) ?? [];
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * A schema the handler parses itself (the OAuth form endpoints, whose repeated or malformed
 * parameters answer RFC 6749 errors of their own): documented, and not validated by Fastify.
 */
function parsedByHandler(schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && PARSED_BY_HANDLER in schema;
}
const acceptAll = () => true;

/** Bodies are validated strictly (no type coercion); query strings and params are coerced from text. */
function validators() {
  const common = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false } as const;
  const body = addFormats(new Ajv({ ...common, coerceTypes: false }));
  const text = addFormats(new Ajv({ ...common, coerceTypes: 'array' }));
  return { body, text };
}

export async function buildApp(deps: Deps, logger: Logger): Promise<App> {
  const { body, text } = validators();
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: BODY_LIMIT_BYTES,
    // Slow and idle clients: a request must arrive whole within requestTimeout (its headers within
    // HEADERS_TIMEOUT_MS of that), checked every second; an idle keep-alive connection is closed.
    requestTimeout: deps.config.requestTimeoutMs,
    keepAliveTimeout: deps.config.keepAliveTimeoutMs,
    http: {
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, deps.config.requestTimeoutMs),
      requestTimeout: deps.config.requestTimeoutMs,
      connectionsCheckingInterval: 1_000,
      maxHeaderSize: MAX_HEADER_BYTES,
    },
    trustProxy: deps.config.trustProxy,
    // Each request's logger is made when it first logs a line (most log none).
    childLoggerFactory: requestLoggerFactory,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { maxParamLength: 200 },
    // Errors Fastify finds before routing (bad percent-encoding, over-long parameters) are problems too.
    frameworkErrors: (err, req, reply) =>
      req.url.startsWith(`${SCIM_PREFIX}/`)
        ? sendScimError(reply, toScimError(err, req))
        : sendFrameworkError(err, req, reply),
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;
  capConnectionsPerAddress(app.server, deps.config.maxConnectionsPerIp);
  const schemas = new LazySchemas();
  LAZY_SCHEMAS.set(app, schemas);
  app.setValidatorCompiler(({ schema, httpPart, method, url }) =>
    parsedByHandler(schema)
      ? acceptAll
      : schemas.validator(`${method} ${url} ${httpPart ?? ''}`, () =>
          (httpPart === 'body' ? body : text).compile(schema as object),
        ),
  );
  app.setSerializerCompiler(({ schema, method, url, httpStatus }) =>
    schemas.serializer(`${method} ${url} ${httpStatus ?? ''}`, schema as object),
  );
  app.decorateRequest('principal', null);
  app.decorateRequest('org', null);
  app.decorateRequest('unannouncedAtStart', null);

  // Every /api route must say how it is authenticated, and every authenticated route what it
  // needs (a permission, an account scope or the credential kinds it takes): forgetting fails the
  // build, not open.
  const table: DeclaredRoute[] = [];
  ROUTE_TABLES.set(app, table);
  app.addHook('onRoute', documentRoute);
  app.addHook('onRoute', (route) => {
    const cfg = route.config ?? {};
    if (route.url.startsWith('/api/') && route.url !== '/api/openapi.json' && !cfg.auth) {
      throw new Error(`route ${route.method} ${route.url} does not declare config.auth`);
    }
    const auth = cfg.auth ?? 'none';
    const problem = declarationProblem(auth, cfg);
    if (problem) throw new Error(`route ${route.method} ${route.url}: ${problem}`);
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      table.push({
        method,
        url: route.url,
        auth,
        body: route.schema?.body !== undefined,
        ...(cfg.permission ? { permission: cfg.permission } : {}),
        ...(cfg.scope ? { scope: cfg.scope } : {}),
        ...(cfg.credentials ? { credentials: cfg.credentials } : {}),
      });
    }
  });

  await app.register(cookie);
  // On https: HSTS, and only the `__Host-` cookies count (read under their base names).
  app.addHook('onRequest', secureTransport(deps.config));
  // A browser still owing its second factor is sent to finish it (before authentication).
  app.addHook('onRequest', secondFactorGate(deps.config.publicUrl));
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Latchkey',
        version: '0.1.0',
        description:
          'Identity and access for people and AI agents. Errors: RFC 9457 problems under /api/v1 and /api/auth, RFC 6749 errors from the OAuth endpoints, RFC 7644 errors from SCIM.',
      },
      servers: [{ url: deps.config.publicUrl }],
      tags: TAGS,
      components: { securitySchemes: SECURITY_SCHEMES },
    },
    transformObject: finishDocument as never,
  });
  const keys = createKeyStore(deps);
  await keys.start();
  app.addHook('onClose', async () => keys.stop());
  const oauthDeps: OAuthDeps = { ...deps, catalogue: buildCatalogue(deps.config), keys };
  // Each tier lives beside its credential; auth/tiers.ts orders them.
  const tiers = orderedTiers({
    session: sessionAuthenticator,
    apiToken: tokenAuthenticator(),
    oauth: oauthAuthenticator(oauthDeps.catalogue.api.url),
    adminToken: adminTokenAuthenticator,
  });
  deps.auth.onChange = (change) =>
    recordRevocation(deps, change).catch((err: Error) =>
      app.log.warn({ err: err.message }, 'could not log a credential change for the revocation stream'),
    );
  await deps.auth.start({
    replay: revocationLogReader(deps),
    onError: (what, err) => app.log.warn({ err: (err as Error)?.message }, what),
  });
  app.addHook('onClose', async () => deps.auth.stop());

  /** Every use of the break-glass ADMIN_TOKEN is on the record, allowed or not. */
  const auditBreakGlass = (req: FastifyRequest) =>
    audit(deps.db, deps.clock, actorOf(req), {
      orgId: req.org?.id ?? null,
      action: 'admin_token.used',
      target: null,
      data: { method: req.method, route: req.routeOptions.url ?? null },
    });

  const metrics = installMetrics(app as unknown as FastifyInstance);

  // The general limiter: every /api request counts against its IP's per-minute budget.
  const general =
    deps.config.apiRateLimit > 0
      ? deps.cache.limiter({ name: 'api:general', points: deps.config.apiRateLimit, windowSeconds: 60 })
      : null;
  app.addHook('onRequest', async (req) => {
    req.unannouncedAtStart = deps.auth.unannounced;
    // A request that may present a credential (a header, a cookie, or a form or JSON body) first
    // brings this node's credential cache up to date with every change answered anywhere before
    // it arrived: one read of the shared change log, sent beside the limiter's count when that
    // needs the shared store too (a leased budget usually does not). A route marked
    // `changeLog: 'handler'` (the token endpoint) reads it itself, when it needs it.
    const cfg = req.routeOptions.config;
    const mayAuthenticate =
      req.headers.authorization !== undefined || req.headers.cookie !== undefined || req.method === 'POST';
    const consuming = general && req.url.startsWith('/api/') ? general.consume(req.ip) : null;
    const syncing =
      mayAuthenticate && cfg.changeLog !== 'handler' && deps.auth.syncs ? deps.auth.sync() : null;
    const limit = syncing ? (await Promise.all([consuming, syncing]))[0] : await consuming;
    if (limit && !limit.allowed) throw rateLimited(limit.retryAfterSeconds);
    // A request that a cookie could authenticate, or that carries no credential at all (sign-in
    // forms), must come from our origin. Only bearer-only requests, which browsers cannot forge
    // cross-site, skip the check.
    const cookieBorne = req.cookies[SESSION_COOKIE] !== undefined || req.headers.authorization === undefined;
    if (isUnsafe(req.method) && cfg.csrf !== false && cookieBorne) {
      checkSameOrigin(req, deps.config.publicOrigin);
    }
    const mode = cfg.auth ?? 'none';
    if (mode === 'none') return;
    // Routes that take only a browser session (the server-rendered pages) look at nothing else.
    const onlySession = cfg.credentials?.length === 1 && cfg.credentials[0] === 'session';
    let principal: Principal | null = onlySession
      ? await sessionAuthenticator(req, deps)
      : await authenticate(req, deps, tiers);
    // A page that may be anonymous treats a credential it does not take as no credential.
    if (principal && mode === 'optional' && cfg.credentials && !cfg.credentials.includes(principal.kind))
      principal = null;
    if (!principal) {
      if (mode === 'optional') return;
      if (onlySession && req.headers.authorization !== undefined)
        throw new ApiError('session_required', 'This needs a browser session.');
      throw new ApiError('unauthorized', 'Sign in or send a bearer token.', {
        // RFC 9728 §5.1: tells an OAuth client where to start.
        headers: {
          'www-authenticate': `Bearer realm="latchkey", resource_metadata="${deps.config.publicUrl}/.well-known/oauth-protected-resource/api"`,
        },
      });
    }
    req.principal = principal;
    if (mode === 'optional') {
      if (principal.kind === 'admin-token') await auditBreakGlass(req);
      return;
    }
    try {
      // The declaration decides, before any handler runs: the credential kind, then the account
      // scope, then (for person routes checked against an org the handler finds) the permission.
      if (cfg.credentials) requireCredentialKind(principal, cfg.credentials);
      if (cfg.scope) requireAccountScope(principal, cfg.scope);
      if (cfg.permission && mode === 'user') requireScope(principal, cfg.permission);
      const header = req.headers['x-org-id'];
      req.org = await resolveOrg(deps, principal, Array.isArray(header) ? header[0] : header, req);
    } finally {
      if (principal.kind === 'admin-token') await auditBreakGlass(req);
    }
    if (mode === 'org') {
      if (!req.org) throw new ApiError('org_required', 'Name the organisation with the x-org-id header.');
      if (cfg.permission) requirePermission(req.org, principal, cfg.permission);
      // An org that requires a second factor refuses members without one after its grace period.
      await enforceOrgMfa(deps, principal, req.org);
    }
  });

  app.addHook('onRequest', logCredential);

  // A change committed while this request ran that could not be announced to the other nodes is
  // said so in the response: it reaches them through the revocation log within a second, not before
  // the answer. (A request running beside another's failed announcement says so too: it cannot
  // tell, and the header only ever errs towards caution.)
  app.addHook('onSend', (req, reply, payload, done) => {
    const from = req.unannouncedAtStart;
    if (from !== null && deps.auth.unannounced !== from) reply.header(PROPAGATION_HEADER, 'pending');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    if (req.url.startsWith('/api/') && !reply.hasHeader('cache-control'))
      reply.header('cache-control', 'no-store');
    done(null, payload);
  });

  app.setErrorHandler((err, req, reply) => sendProblem(reply, toApiError(err, req)));
  app.setNotFoundHandler((req, reply) =>
    sendProblem(
      reply,
      new ApiError('not_found', `No route for ${req.method} ${redactUrl(req.url).slice(0, 200)}.`),
    ),
  );

  opsRoutes(app, deps, metrics);
  accountRoutes(app, deps);
  mfaRoutes(app, deps);
  adminRoutes(app, deps);
  adminAgentRoutes(app, deps);
  orgRoutes(app, deps);
  joiningRoutes(app, deps);
  auditRoutes(app, deps);
  webhookRoutes(app, deps);
  tokenRoutes(app, deps);
  usageRoutes(app, deps);
  leakRoutes(app, deps);
  appRoutes(app, oauthDeps);
  approvalRoutes(app, oauthDeps);
  revocationStreamRoutes(app, oauthDeps, metrics);
  keyRoutes(app, oauthDeps);
  consentManagementRoutes(app, deps);
  scimAdminRoutes(app, deps);
  await agentRoutes(app, oauthDeps);
  await app.register(async (scope) => pageRoutes(scope as unknown as App, deps));
  await app.register(async (scope) => mfaPageRoutes(scope as unknown as App, deps));
  await app.register(async (scope) => dashboardRoutes(scope as unknown as App, deps));
  await app.register(async (scope) => oauthRoutes(scope as unknown as App, oauthDeps));
  await app.register(async (scope) => authorizeEndpoint(scope as unknown as App, oauthDeps));
  await app.register(async (scope) => devicePage(scope as unknown as App, oauthDeps));
  await app.register(async (scope) => oidcRoutes(scope as unknown as App, oauthDeps));
  // SCIM authenticates with the org's SCIM secret and answers RFC 7644 errors, in its own scope.
  await app.register(async (scope) => scimRoutes(scope as unknown as App, deps), { prefix: SCIM_PREFIX });
  await ssoRoutes(app, deps);
  return app;
}
