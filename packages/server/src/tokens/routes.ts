import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { audit } from '../audit/log.js';
import type { Deps } from '../deps.js';
import { type Principal } from '../auth/principal.js';
import { requirePermission } from '../orgs/context.js';
import { ApiError, rateLimited } from '../errors.js';
import { decodeCursor, PageOf, PageQuery, page } from '../http/pagination.js';
import { actorOf, orgOf, principalOf, userOf } from '../http/request.js';
import { IdParams } from '../http/shapes.js';
import type { App } from '../http/types.js';
import {
  mint,
  type MintRequest,
  TOKEN_MAX_LIFETIME_S,
  TOKEN_MIN_LIFETIME_S,
  TOKEN_NAME_MAX,
} from './mint.js';
import { findToken, listTokens, revokeToken } from './queries.js';
import { buildCatalogue } from './catalogue.js';
import { API_SCOPES } from './scopes.js';
import { MintBody, ORG_TOKEN_SCOPES, shape, SHOWN_ONCE_WARNING, Token, TokenType } from './shapes.js';

/** Mints (PAT, SVC, org keys together) one IP may make per hour, across every node. */
export const MINTS_PER_IP_PER_HOUR = 10;

/** An empty POST body mints with defaults. */
async function emptyBodyIsObject(req: FastifyRequest) {
  if (req.body === undefined) req.body = {};
}

/** `/api/v1/tokens` (personal and service tokens) and `/api/v1/org/tokens` (org API keys). */
export function tokenRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;
  // Scopes of the configured resources (MCP servers, APIs) a token may also carry, for resources
  // that accept Latchkey API tokens.
  const resourceScopes = buildCatalogue(config).allScopes.filter((s) => !API_SCOPES.includes(s));
  const patScopes = [...API_SCOPES, ...resourceScopes];
  const orgTokenScopes = [...ORG_TOKEN_SCOPES, ...resourceScopes];
  const mints = deps.cache.limiter({
    name: 'tokens:mint',
    points: MINTS_PER_IP_PER_HOUR,
    windowSeconds: 3600,
  });
  const spendMint = async (req: FastifyRequest) => {
    const r = await mints.consume(req.ip);
    if (!r.allowed)
      throw rateLimited(
        r.retryAfterSeconds,
        `At most ${MINTS_PER_IP_PER_HOUR} tokens an hour from one address.`,
      );
  };
  /** Revokes a token and every token minted from it, at once on every node. */
  const revoke = async (req: FastifyRequest, id: string, orgId: string | null) => {
    const done = await db.transaction().execute(async (trx) => {
      const r = await revokeToken(trx, clock, id, 'revoked');
      if (r)
        await audit(trx, clock, actorOf(req), {
          orgId,
          action: 'token.revoked',
          target: `token:${id}`,
          data: {
            prefix: r.prefix,
            descendants: r.all.filter((d) => d.id !== id).map((d) => d.prefix),
          },
        });
      return r;
    });
    for (const d of done?.all ?? []) await deps.auth.changed({ token: d.token_hash });
  };
  const lifetime = (b: { expires_in?: number; never_expires?: boolean }): Partial<MintRequest> => ({
    expiresIn: b.expires_in,
    neverExpires: b.never_expires === true,
  });

  /**
   * A new secret for the same token: same kind, name, scopes and expiry, and the old one revoked —
   * with every token minted from it — in the same transaction, so exactly one of them is live. The
   * caller mints the new one, so it never carries more than the caller may hand out, nor outlives
   * it. A credential cannot rotate itself or the token it descends from: that would revoke it.
   */
  const rotate = async (
    req: FastifyRequest,
    t: NonNullable<Awaited<ReturnType<typeof findToken>>>,
    target: Pick<MintRequest, 'allowed' | 'userId' | 'orgId' | 'role'>,
  ) => {
    const p = principalOf(req);
    const now = clock.now();
    const left = t.expires_at === null ? null : Math.floor((t.expires_at.getTime() - now.getTime()) / 1000);
    if (left !== null && left < TOKEN_MIN_LIFETIME_S)
      throw new ApiError('invalid_request', 'This token expires too soon to rotate; mint a new one.');
    await spendMint(req);
    const { out, revoked } = await db.transaction().execute(async (trx) => {
      const revoked = await revokeToken(trx, clock, t.id, 'rotated');
      if (!revoked) throw new ApiError('not_found', 'No such token.');
      if (p.kind !== 'session' && p.kind !== 'admin-token' && revoked.all.some((r) => r.id === p.tokenId))
        throw new ApiError(
          'invalid_request',
          'A token cannot rotate itself or the token it was minted from: rotate it with another credential.',
        );
      const scopes = typeof t.scopes === 'string' ? (JSON.parse(t.scopes) as string[]) : t.scopes;
      const out = await mint(trx, clock, actorOf(req), {
        kind: t.kind as MintRequest['kind'],
        name: t.name,
        // A token stored without scopes holds every scope of its kind: its successor lists them.
        scopes: scopes ?? [...target.allowed],
        // The same instant, not the seconds left: those, counted again at mint, would drift past it.
        expiresIn: undefined,
        ...(t.expires_at ? { expiresAt: t.expires_at } : { neverExpires: true }),
        minter: p,
        tokenPrefix: config.tokenPrefix,
        replaces: {
          prefix: revoked.prefix,
          descendants: revoked.all.filter((d) => d.id !== t.id).map((d) => d.prefix),
        },
        ...target,
      });
      return { out, revoked };
    });
    for (const d of revoked.all) await deps.auth.changed({ token: d.token_hash });
    return out;
  };

  app.post(
    '/api/v1/tokens',
    {
      config: { auth: 'user', scope: 'account:write' },
      preValidation: emptyBodyIsObject,
      schema: {
        tags: ['tokens'],
        body: Type.Object({ ...MintBody, type: Type.Optional(TokenType) }, { additionalProperties: false }),
        response: { 201: Token },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const type = req.body.type ?? 'pat';
      let target: { userId: string | null; orgId: string | null; allowed: readonly string[] };
      if (type === 'pat') {
        target = { userId: userOf(req).id, orgId: null, allowed: patScopes };
      } else {
        const org = orgOf(req);
        requirePermission(org, p, 'tokens:manage');
        target = { userId: null, orgId: org.id, allowed: orgTokenScopes };
      }
      await spendMint(req);
      const out = await db.transaction().execute((trx) =>
        mint(trx, clock, actorOf(req), {
          kind: type,
          name: req.body.name ?? null,
          scopes: req.body.scopes,
          expiresIn: undefined,
          ...lifetime(req.body),
          role: type === 'svc' ? 'admin' : null,
          minter: p,
          tokenPrefix: config.tokenPrefix,
          ...target,
        }),
      );
      return reply.code(201).send({
        ...shape({ ...out.row, scopes: out.scopes, last_used_at: null }, false),
        token: out.token,
        warning: SHOWN_ONCE_WARNING,
      });
    },
  );

  app.get(
    '/api/v1/tokens',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: {
        tags: ['tokens'],
        querystring: Type.Object(
          { ...PageQuery, type: Type.Optional(TokenType) },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(Token) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      const limit = req.query.limit ?? 50;
      const after = decodeCursor(req.query.cursor);
      const rows =
        (req.query.type ?? 'pat') === 'pat'
          ? await listTokens(db, { userId: userOf(req).id, kinds: ['pat'], limit, after, now: clock.now() })
          : await (async () => {
              const org = orgOf(req);
              requirePermission(org, p, 'tokens:manage');
              return listTokens(db, { orgId: org.id, kinds: ['svc'], limit, after, now: clock.now() });
            })();
      const pg = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return { data: pg.data.map((r) => shape(r, true)), next_cursor: pg.next_cursor };
    },
  );

  app.delete(
    '/api/v1/tokens/:id',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: { tags: ['tokens'], params: IdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const t = await findToken(db, req.params.id);
      if (!t || !(await mayRevoke(p, req, t))) throw new ApiError('not_found', 'No such token.');
      await revoke(req, t.id, t.org_id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/tokens/:id/rotate',
    {
      config: { auth: 'user', scope: 'account:write' },
      schema: {
        tags: ['tokens'],
        summary:
          'Rotate a personal or service token: a new secret, the same name, scopes and expiry; the old one is revoked',
        params: IdParams,
        response: { 201: Token },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const t = await findToken(db, req.params.id);
      if (!t || t.revoked_at || !(await mayRevoke(p, req, t)))
        throw new ApiError('not_found', 'No such token.');
      const out = await rotate(
        req,
        t,
        t.kind === 'pat'
          ? { userId: userOf(req).id, orgId: null, allowed: patScopes, role: null }
          : { userId: null, orgId: t.org_id, allowed: orgTokenScopes, role: 'admin' },
      );
      return reply.code(201).send({
        ...shape({ ...out.row, scopes: out.scopes, last_used_at: null }, false),
        token: out.token,
        warning: SHOWN_ONCE_WARNING,
      });
    },
  );

  /** A person revokes their own PATs; an org admin revokes the org's service tokens. Anything else is "not found". */
  async function mayRevoke(
    p: Principal,
    req: FastifyRequest,
    t: { kind: string; user_id: string | null; org_id: string | null },
  ) {
    if (t.kind === 'pat') return p.user !== null && t.user_id === p.user.id;
    if (t.kind !== 'svc' || !req.org || req.org.id !== t.org_id) return false;
    requirePermission(req.org, p, 'tokens:manage');
    return true;
  }

  app.post(
    '/api/v1/org/tokens',
    {
      config: { auth: 'org', permission: 'tokens:manage' },
      preValidation: emptyBodyIsObject,
      schema: {
        tags: ['tokens'],
        body: Type.Object(MintBody, { additionalProperties: false }),
        response: { 201: Token },
      },
    },
    async (req, reply) => {
      const org = orgOf(req);
      await spendMint(req);
      const out = await db.transaction().execute((trx) =>
        mint(trx, clock, actorOf(req), {
          kind: 'org',
          name: req.body.name ?? null,
          scopes: req.body.scopes,
          expiresIn: undefined,
          ...lifetime(req.body),
          allowed: orgTokenScopes,
          userId: null,
          orgId: org.id,
          role: 'admin',
          minter: principalOf(req),
          tokenPrefix: config.tokenPrefix,
        }),
      );
      return reply.code(201).send({
        ...shape({ ...out.row, scopes: out.scopes, last_used_at: null }, true),
        token: out.token,
        warning: SHOWN_ONCE_WARNING,
      });
    },
  );

  app.get(
    '/api/v1/org/tokens',
    {
      config: { auth: 'org', permission: 'tokens:manage' },
      schema: {
        tags: ['tokens'],
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: PageOf(Token) },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const limit = req.query.limit ?? 50;
      const rows = await listTokens(db, {
        orgId: org.id,
        kinds: ['org'],
        limit,
        after: decodeCursor(req.query.cursor),
        now: clock.now(),
      });
      const pg = page(rows, limit, (r) => ({ at: r.created_at, id: r.id }));
      return { data: pg.data.map((r) => shape(r, true)), next_cursor: pg.next_cursor };
    },
  );

  app.delete(
    '/api/v1/org/tokens/:id',
    {
      config: { auth: 'org', permission: 'tokens:manage' },
      schema: { tags: ['tokens'], params: IdParams, response: { 204: Type.Null() } },
    },
    async (req, reply) => {
      const org = orgOf(req);
      const t = await findToken(db, req.params.id);
      if (t?.kind !== 'org' || t.org_id !== org.id) throw new ApiError('not_found', 'No such token.');
      await revoke(req, t.id, org.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/org/tokens/:id/rotate',
    {
      config: { auth: 'org', permission: 'tokens:manage' },
      schema: {
        tags: ['tokens'],
        summary:
          'Rotate an org API key: a new secret, the same name, scopes and expiry; the old key is revoked',
        params: IdParams,
        response: { 201: Token },
      },
    },
    async (req, reply) => {
      const org = orgOf(req);
      const t = await findToken(db, req.params.id);
      if (t?.kind !== 'org' || t.org_id !== org.id || t.revoked_at)
        throw new ApiError('not_found', 'No such token.');
      const out = await rotate(req, t, {
        userId: null,
        orgId: org.id,
        allowed: orgTokenScopes,
        role: 'admin',
      });
      return reply.code(201).send({
        ...shape({ ...out.row, scopes: out.scopes, last_used_at: null }, true),
        token: out.token,
        warning: SHOWN_ONCE_WARNING,
      });
    },
  );
}
