import type { RawBuilder, SqlBool } from 'kysely';
import type { TSchema } from 'typebox';
import type { Actor } from '../auth/principal.js';
import type { Db } from '../db/connection.js';
import type { Deps } from '../deps.js';
import type { AttrTable } from './filter-sql.js';
import type { MailLog } from './link.js';
import type { Doc, PatchOperation } from './patch.js';
import type { ResourceSchema } from './schema.js';

/**
 * What one SCIM resource type hands the generic router (`resource-routes.ts`): its schema and
 * endpoint, what a filter may name, its response shape, and how to read, render and write one
 * of its resources. The router owns the HTTP side every resource shares (the list query, ids,
 * projection, ETags, status codes and Location); the definition owns the rules of its resource.
 */

/** The caller of a SCIM request: the org its secret belongs to. */
export interface ScimCaller {
  readonly orgId: string;
  readonly actor: Actor;
}

/** What SCIM's domain operations need. */
export type ScimDeps = Pick<Deps, 'db' | 'clock' | 'auth' | 'cache'>;

/** What a resource's writes need: the operations', and what mails a write sends once committed. */
export type ResourceDeps = ScimDeps & Pick<Deps, 'mailer' | 'config'>;

/** A PUT (`replace`: the body as sent) or a PATCH (`patch`: the operations, already read). */
export type ResourceChange = { readonly replace: unknown } | { readonly patch: readonly PatchOperation[] };

/** Who writes, and where a write reports what failed after it committed (a mail not sent). */
export interface WriteContext {
  readonly caller: ScimCaller;
  readonly log: MailLog;
}

/** One value of a resource's related multi-valued attribute (a user's group, a group's member). */
export interface Ref {
  readonly value: string;
  readonly display: string;
}

/** A related value and the resource it belongs to. */
export interface OwnedRef extends Ref {
  readonly of: string;
}

/** What every stored resource has: its id and the version its ETag shows. */
export interface StoredResource {
  readonly id: string;
  readonly version: number;
}

export interface ResourceDefinition<Row extends StoredResource> {
  /** Name, endpoint (`/Users`), core schema and extensions. */
  readonly schema: ResourceSchema;
  /** The resource in prose, lower case (`user`): "No such user." */
  readonly noun: string;
  /** What a filter may name, as SQL over the rows `list` selects. */
  readonly attrs: AttrTable;
  /** The response shape: nothing but the declared attributes reaches the wire. */
  readonly shape: TSchema;
  /** The OpenAPI descriptions of the write endpoints' bodies. */
  readonly docs: { readonly create: string; readonly replace: string; readonly patch: string };
  /**
   * What a successful PATCH answers (RFC 7644 §3.5.2 allows both): `resource`, 200 with the
   * resource; `no-content`, 204 with its ETag unless the request names `attributes` or
   * `excludedAttributes` (then 200 with the resource they select).
   */
  readonly patchAnswer: 'resource' | 'no-content';
  /**
   * The multi-valued attribute read from other rows (a user's `groups`, a group's `members`):
   * loaded for a page of resources at once, and not at all when the projection leaves it out.
   */
  readonly related: {
    readonly attribute: string;
    load(db: Db, orgId: string, ids: readonly string[]): Promise<readonly OwnedRef[]>;
  };

  list(
    db: Db,
    orgId: string,
    where: RawBuilder<SqlBool> | null,
    offset: number,
    limit: number,
  ): Promise<{ total: number; rows: Row[] }>;
  get(db: Db, orgId: string, id: string): Promise<Row | undefined>;
  /** The resource with every attribute (projection comes after); `related` null when not loaded. */
  toResource(row: Row, related: readonly Ref[] | null, base: string): Doc & { id: string };

  /** POST: the body as sent. */
  create(deps: ResourceDeps, w: WriteContext, body: unknown): Promise<Row>;
  /** PUT or PATCH of a resource by id, checked against `ifMatch` under the row's lock. */
  update(
    deps: ResourceDeps,
    w: WriteContext,
    id: string,
    change: ResourceChange,
    ifMatch: string | string[] | undefined,
  ): Promise<Row>;
  /** DELETE, checked against `ifMatch` under the row's lock. */
  remove(
    deps: ResourceDeps,
    w: WriteContext,
    id: string,
    ifMatch: string | string[] | undefined,
  ): Promise<void>;
}
