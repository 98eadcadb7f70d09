import { Type } from 'typebox';
import { audit } from '../audit/log.js';
import type { Deps } from '../deps.js';
import { ApiError } from '../errors.js';
import { actorOf, orgOf } from '../http/request.js';
import { Timestamp } from '../http/shapes.js';
import type { App } from '../http/types.js';
import { isUniqueViolation } from '../db/errors.js';
import { resolverFor } from '../lib/dns.js';
import { SSO_LIMITS } from './limits.js';
import { challengeName, checkChallenge, newChallengeToken } from './domains.js';
import {
  activeConnection,
  deleteDomain,
  getDomain,
  getSettings,
  insertDomain,
  listDomains,
  markDomainVerified,
  orgOfVerifiedDomain,
  saveSettings,
} from './queries.js';

const Settings = Type.Object({
  sso_enforced: Type.Boolean(),
  status_page_url: Type.Union([Type.String(), Type.Null()]),
  /** Whether members are refused other sign-ins now: enforced and a connection is enabled. */
  enforcement_active: Type.Boolean(),
  /** SSO creates accounts and memberships at first sign-in (emails at verified domains only). */
  jit_provisioning: Type.Boolean(),
});
const Challenge = Type.Object({
  /** The DNS name to publish the record at: `_latchkey-challenge.<domain>`. */
  name: Type.String(),
  type: Type.Literal('TXT'),
  /** The record's value: the token this org was given for this domain. */
  value: Type.String(),
});
const Domain = Type.Object({
  domain: Type.String(),
  verified: Type.Boolean(),
  verified_at: Type.Union([Timestamp, Type.Null()]),
  /** When the record was last looked up by the daily re-check (or the verification). */
  last_checked_at: Type.Union([Timestamp, Type.Null()]),
  /** The TXT record that proves control; shown while the domain is unverified, null once verified. */
  challenge: Type.Union([Challenge, Type.Null()]),
  created_at: Timestamp,
});
const DomainParams = Type.Object({ domain: Type.String({ minLength: 1, maxLength: 253 }) });
const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

const claimed = () =>
  new ApiError(
    'domain_claimed',
    'Another organisation has verified this domain. A domain is verified by one organisation at a time.',
  );

/** The API shape of a domain row; its challenge record only while it is unverified. */
function domainOut(d: {
  domain: string;
  verified_at: Date | null;
  last_checked_at: Date | null;
  challenge_token: string;
  created_at: Date;
}) {
  return {
    domain: d.domain,
    verified: d.verified_at !== null,
    verified_at: d.verified_at?.toISOString() ?? null,
    last_checked_at: d.last_checked_at?.toISOString() ?? null,
    challenge:
      d.verified_at === null
        ? { name: challengeName(d.domain), type: 'TXT' as const, value: d.challenge_token }
        : null,
    created_at: d.created_at.toISOString(),
  };
}

function domainOrThrow(raw: string): string {
  const d = raw.trim().toLowerCase().replace(/\.$/, '');
  if (!DOMAIN_RE.test(d))
    throw new ApiError('invalid_request', 'That is not a domain name (like example.com).');
  return d;
}

/**
 * `/api/v1/org/sso` (enforcement, status page) and `/api/v1/org/sso/domains`. Admins add domains
 * and verify them by proof of control: adding one gives a TXT record to publish, and
 * `POST …/domains/{domain}/verify` looks it up (through `DNS_SERVERS`). Nothing else marks a
 * domain verified. A verified domain belongs to one org; only verified domains route sign-ins and
 * admit just-in-time accounts; `recheckDomains` keeps checking that the record is still there.
 */
export function ssoSettingsRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;
  const admin = { auth: 'org', permission: 'org:update' } as const;
  const tags = ['sso'];

  const settingsOut = async (orgId: string) => {
    const s = await getSettings(db, orgId);
    const active = s.sso_enforced && (await activeConnection(db, orgId)) !== undefined;
    return {
      sso_enforced: s.sso_enforced,
      status_page_url: s.status_page_url,
      enforcement_active: active,
      jit_provisioning: s.jit_provisioning,
    };
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
            jit_provisioning: Type.Optional(Type.Boolean()),
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
          jit_provisioning: req.body.jit_provisioning ?? now.jit_provisioning,
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
    async (req) => ({ data: (await listDomains(db, orgOf(req).id)).map(domainOut) }),
  );

  app.get(
    '/api/v1/org/sso/domains/:domain',
    { config: admin, schema: { tags, params: DomainParams, response: { 200: Domain } } },
    async (req) => {
      const row = await getDomain(db, orgOf(req).id, domainOrThrow(req.params.domain));
      if (!row) throw new ApiError('not_found', 'No such domain in this organisation.');
      return domainOut(row);
    },
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
      const token = newChallengeToken();
      try {
        await db.transaction().execute(async (trx) => {
          const n = (await listDomains(trx, org.id)).length;
          if (n >= SSO_LIMITS.domainsPerOrg) {
            throw new ApiError(
              'conflict',
              `An organisation has at most ${SSO_LIMITS.domainsPerOrg} domains.`,
            );
          }
          await insertDomain(trx, { orgId: org.id, domain, challengeToken: token }, now);
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
      return reply.code(201).send(
        domainOut({
          domain,
          verified_at: null,
          last_checked_at: null,
          challenge_token: token,
          created_at: now,
        }),
      );
    },
  );

  app.post(
    '/api/v1/org/sso/domains/:domain/verify',
    { config: admin, schema: { tags, params: DomainParams, response: { 200: Domain } } },
    async (req) => {
      const org = orgOf(req);
      const domain = domainOrThrow(req.params.domain);
      const row = await getDomain(db, org.id, domain);
      if (!row) throw new ApiError('not_found', 'No such domain in this organisation.');
      if (row.verified_at !== null) return domainOut(row);
      const holder = await orgOfVerifiedDomain(db, domain);
      if (holder) throw claimed();

      const name = challengeName(domain);
      const found = await checkChallenge(resolverFor(config), domain, row.challenge_token);
      if (found.kind === 'lookup_failed') {
        req.log.warn({ domain, code: found.code }, 'sso domain verification: DNS lookup failed');
        throw new ApiError(
          'dns_lookup_failed',
          `The DNS lookup of ${name} failed (${found.code}); nothing was changed. Try again shortly.`,
        );
      }
      if (found.kind === 'absent')
        throw new ApiError(
          'domain_not_verified',
          `No TXT record at ${name}. Publish a TXT record there whose value is this domain's challenge, then check again (DNS changes can take a while to appear).`,
        );
      if (found.kind === 'mismatch')
        throw new ApiError(
          'domain_not_verified',
          `The TXT records at ${name} do not hold this organisation's challenge value for ${domain}.`,
        );

      const now = clock.now();
      try {
        const verified = await db.transaction().execute(async (trx) => {
          const r = await markDomainVerified(trx, { orgId: org.id, domain, by: actorOf(req).actor, now });
          if (!r) return undefined;
          await audit(trx, clock, actorOf(req), {
            orgId: org.id,
            action: 'sso.domain_verified',
            target: `domain:${domain}`,
            data: { method: 'dns_txt', record: name },
          });
          return r;
        });
        // Verified or removed by a concurrent request meanwhile: answer what is there now.
        const current = verified ?? (await getDomain(db, org.id, domain));
        if (!current) throw new ApiError('not_found', 'No such domain in this organisation.');
        return domainOut(current);
      } catch (err) {
        if (isUniqueViolation(err)) throw claimed();
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
        const r = await deleteDomain(trx, org.id, domain);
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
