import { Type } from 'typebox';
import type { Deps } from '../../deps.js';
import { ApiError } from '../../errors.js';
import { actorOf, orgOf, principalOf } from '../../http/request.js';
import type { App } from '../../http/types.js';
import { factorsOf, hasFactor } from './factors.js';
import {
  forgetMfaMemo,
  MFA_GRACE_DAYS_DEFAULT,
  MFA_GRACE_DAYS_MAX,
  orgMfaPolicy,
  setOrgMfaPolicy,
} from './org-policy.js';
import { OrgMfaShape, orgMfaOut } from './shapes.js';

/** An org's requirement (`/api/v1/org/mfa`): members must have a second factor, after a grace period. */
export function orgMfaRoutes(app: App, deps: Deps): void {
  const { db, clock, config } = deps;

  // ---- an org's requirement ------------------------------------------------------------------

  app.get(
    '/api/v1/org/mfa',
    {
      config: { auth: 'org', permission: 'org:read' },
      schema: { tags: ['orgs'], response: { 200: OrgMfaShape } },
    },
    async (req) => orgMfaOut(await orgMfaPolicy(db, orgOf(req).id)),
  );

  app.put(
    '/api/v1/org/mfa',
    {
      config: { auth: 'org', permission: 'org:update' },
      schema: {
        tags: ['orgs'],
        body: Type.Object(
          {
            mfa_required: Type.Boolean(),
            grace_days: Type.Optional(Type.Integer({ minimum: 0, maximum: MFA_GRACE_DAYS_MAX })),
          },
          { additionalProperties: false },
        ),
        response: { 200: OrgMfaShape },
      },
    },
    async (req) => {
      const org = orgOf(req);
      const p = principalOf(req);
      // Whoever turns it on shows it can be met: their own account has a factor.
      if (req.body.mfa_required && p.user && !hasFactor(await factorsOf(db, p.user.id)))
        throw new ApiError(
          'mfa_enrolment_required',
          'Add a second factor to your own account before requiring one.',
          {
            extra: { org: org.slug, enrol_url: '/app/account/security' },
          },
        );
      const current = await orgMfaPolicy(db, org.id);
      const policy = await db.transaction().execute((trx) =>
        setOrgMfaPolicy(trx, clock, actorOf(req), org.id, {
          required: req.body.mfa_required,
          graceDays: req.body.grace_days ?? (current.required ? current.graceDays : MFA_GRACE_DAYS_DEFAULT),
        }),
      );
      forgetMfaMemo(deps, { orgId: org.id });
      return orgMfaOut(policy);
    },
  );
}
