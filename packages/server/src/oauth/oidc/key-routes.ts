import { Type } from 'typebox';
import { requireInstanceAdmin } from '../../auth/instance-admin.js';
import { audit } from '../../audit/log.js';
import type { OAuthDeps } from '../grants/types.js';
import { actorOf, principalOf } from '../../http/request.js';
import { Timestamp } from '../../http/shapes.js';
import type { App } from '../../http/types.js';
import { publishedKeys } from './keys.js';

const OrNull = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const Key = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  state: Type.String(),
  created_at: Timestamp,
  activated_at: OrNull(Timestamp),
  retired_at: OrNull(Timestamp),
  /** A retired key is published until then. */
  expires_at: OrNull(Timestamp),
});

const Rotation = Type.Object({
  alg: Type.String(),
  current: Type.String(),
  retired: OrNull(Type.String()),
  retired_until: OrNull(Timestamp),
});

/**
 * `/api/v1/admin/signing-keys`: the instance's signing keys (public facts only; a private key never
 * leaves the database unsealed) and an immediate rotation. Instance admins only, with a session or
 * the break-glass token.
 */
export function keyRoutes(app: App, deps: OAuthDeps): void {
  const { db, clock } = deps;
  const config = { auth: 'user', credentials: ['session', 'admin-token'] } as const;

  app.get(
    '/api/v1/admin/signing-keys',
    {
      config,
      schema: { tags: ['admin'], response: { 200: Type.Object({ data: Type.Array(Key) }) } },
    },
    async (req) => {
      await requireInstanceAdmin(db, principalOf(req));
      const keys = await publishedKeys(db, clock);
      return {
        data: keys.map((k) => ({
          kid: k.kid,
          alg: k.alg,
          state: k.state,
          created_at: k.createdAt.toISOString(),
          activated_at: k.activatedAt?.toISOString() ?? null,
          retired_at: k.retiredAt?.toISOString() ?? null,
          expires_at: k.expiresAt?.toISOString() ?? null,
        })),
      };
    },
  );

  app.post(
    '/api/v1/admin/signing-keys/rotate',
    {
      config,
      schema: { tags: ['admin'], response: { 200: Type.Object({ rotated: Type.Array(Rotation) }) } },
    },
    async (req) => {
      await requireInstanceAdmin(db, principalOf(req));
      const rotated = await deps.keys.rotate();
      await audit(db, clock, actorOf(req), {
        orgId: null,
        action: 'signing_key.rotated',
        target: null,
        data: { rotated: rotated.map((r) => ({ alg: r.alg, current: r.current, retired: r.retired })) },
      });
      return {
        rotated: rotated.map((r) => ({
          alg: r.alg,
          current: r.current,
          retired: r.retired,
          retired_until: r.retiredUntil?.toISOString() ?? null,
        })),
      };
    },
  );
}
