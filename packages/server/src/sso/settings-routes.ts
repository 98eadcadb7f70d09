import { Type } from 'typebox';
import { audit } from '../audit/log.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../http/errors.js';
import { actorOf, orgOf } from '../http/request.js';
import { Timestamp } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { isUniqueViolation } from '../accounts/users.js';
import { newId } from '../lib/secrets.js';
import { SSO_LIMITS } from './limits.js';
import { activeConnection, getSettings, listDomains, saveSettings } from './queries.js';

const Settings = Type.Object({
  sso_enforced: Type.Boolean(),
  status_page_url: Type.Union([Type.String(), Type.Null()]),
  /** Whether members are refused other sign-ins now: enforced and a connection is enabled. */
  enforcement_active: Type.Boolean(),
});
const Domain = Type.Object({
  domain: Type.String(),
  verified: Type.Boolean(),
  verified_at: Type.Union([Timestamp, Type.Null()]),
  created_at: Timestamp,
});
const DomainParams = Type.Object({ domain: Type.String({ minLength: 1, maxLength: 253 }) });
const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

function domainOrThrow(raw: string): string {
  const d = raw.trim().toLowerCase().replace(/\.$/, '');
  if (!DOMAIN_RE.test(d))
    throw new ApiError('invalid_request', 'That is not a domain name (like example.com).');
  return d;
}

/**
 * `/api/v1/org/sso` (enforcement, status page) and `/api/v1/org/sso/domains`. Admins add domains;
 * only an owner verifies one (`POST …/domains/{domain}/verify`), which asserts the org controls
 * it. A verified domain belongs to one org; only verified domains route sign-ins and admit
 * just-in-time accounts.
 */
export function ssoSettingsRoutes(app: App, deps: Deps): void {
  const { db, clock } = deps;
  const admin = { auth: 'org', permission: 'org:update' } as const;
  const tags = ['sso'];

  const settingsOut = async (orgId: string) => {
    const s = await getSettings(db, orgId);
    const active = s.sso_enforced && (await activeConnection(db, orgId)) !== undefined;
    return { sso_enforced: s.sso_enforced, status_page_url: s.status_page_url, enforcement_active: active };
  };

  app.get('/api/v1/org/sso', { config: admin, schema: { tags, response: { 200: Settings } } }, async (req) =>
    settingsOut(orgOf(req).id),
  );

  app.patch(
    '/api/v1/org/sso',
    {
      config: admin,
      schema: {
        tags,
        body: Type.Object(
          {
            sso_enforced: Type.Optional(Type.Boolean()),
            status_page_url: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 200: Settings },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const url = req.body.status_page_url;
      if (typeof url === 'string') {
        let ok = false;
        try {
          ok = ['https:', 'http:'].includes(new URL(url).protocol);
        } catch {}
        if (!ok) throw new ApiError('invalid_request', 'status_page_url must be an http(s) URL.');
      }
      await db.transaction().execute(async (trx) => {
        const now = await getSettings(trx, org.id);
        const next = {
          sso_enforced: req.body.sso_enforced ?? now.sso_enforced,
          status_page_url: url === undefined ? now.status_page_url : url,
        };
        await saveSettings(trx, clock, org.id, next);
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'sso.settings_updated',
          target: `org:${org.id}`,
          data: next,
        });
      });
      return settingsOut(org.id);
    },
  );

  app.get(
    '/api/v1/org/sso/domains',
    { config: admin, schema: { tags, response: { 200: Type.Object({ data: Type.Array(Domain) }) } } },
    async (req) => ({
      data: (await listDomains(db, orgOf(req).id)).map((d) => ({
        domain: d.domain,
        verified: d.verified_at !== null,
        verified_at: d.verified_at?.toISOString() ?? null,
        created_at: d.created_at.toISOString(),
      })),
    }),
  );

  app.post(
    '/api/v1/org/sso/domains',
    {
      config: admin,
      schema: {
        tags,
        body: Type.Object({ domain: Type.String({ maxLength: 253 }) }, { additionalProperties: false }),
        response: { 201: Domain },
      },
    },
    async (req, reply) => {
      const org = orgOf(req);
      const domain = domainOrThrow(req.body.domain);
      const now = clock.now();
      try {
        await db.transaction().execute(async (trx) => {
          const n = (await listDomains(trx, org.id)).length;
          if (n >= SSO_LIMITS.domainsPerOrg) {
            throw new ApiError(
              'conflict',
              `An organisation has at most ${SSO_LIMITS.domainsPerOrg} domains.`,
            );
          }
          await trx
            .insertInto('sso_domains')
            .values({ id: newId(), org_id: org.id, domain, created_at: now })
            .execute();
          await audit(trx, clock, actorOf(req), {
            orgId: org.id,
            action: 'sso.domain_added',
            target: `domain:${domain}`,
          });
        });
      } catch (err) {
        if (isUniqueViolation(err))
          throw new ApiError('conflict', 'The organisation already has this domain.');
        throw err;
      }
      return reply
        .code(201)
        .send({ domain, verified: false, verified_at: null, created_at: now.toISOString() });
    },
  );

  app.post(
    '/api/v1/org/sso/domains/:domain/verify',
    { config: admin, schema: { tags, params: DomainParams, response: { 200: Domain } } },
    async (req) => {
      const org = orgOf(req);
      if (org.role !== 'owner') throw new ApiError('forbidden', 'Only an owner may verify a domain.');
      const domain = domainOrThrow(req.params.domain);
      const now = clock.now();
      try {
        const row = await db.transaction().execute(async (trx) => {
          const r = await trx
            .updateTable('sso_domains')
            .set({ verified_at: now, verified_by: actorOf(req).actor })
            .where('org_id', '=', org.id)
            .where('domain', '=', domain)
            .where('verified_at', 'is', null)
            .returning(['created_at'])
            .executeTakeFirst();
          if (!r) throw new ApiError('not_found', 'No unverified domain by that name in this organisation.');
          await audit(trx, clock, actorOf(req), {
            orgId: org.id,
            action: 'sso.domain_verified',
            target: `domain:${domain}`,
            data: { method: 'owner_confirmation' },
          });
          return r;
        });
        return {
          domain,
          verified: true,
          verified_at: now.toISOString(),
          created_at: row.created_at.toISOString(),
        };
      } catch (err) {
        if (isUniqueViolation(err))
          throw new ApiError('domain_taken', 'Another organisation verified this domain.');
        throw err;
      }
    },
  );

  app.delete(
    '/api/v1/org/sso/domains/:domain',
    { config: admin, schema: { tags, params: DomainParams, response: { 204: Type.Null() } } },
    async (req, reply) => {
      const org = orgOf(req);
      const domain = domainOrThrow(req.params.domain);
      await db.transaction().execute(async (trx) => {
        const r = await trx
          .deleteFrom('sso_domains')
          .where('org_id', '=', org.id)
          .where('domain', '=', domain)
          .executeTakeFirst();
        if (Number(r.numDeletedRows) === 0)
          throw new ApiError('not_found', 'No such domain in this organisation.');
        await audit(trx, clock, actorOf(req), {
          orgId: org.id,
          action: 'sso.domain_removed',
          target: `domain:${domain}`,
        });
      });
      return reply.code(204).send(null);
    },
  );
}
