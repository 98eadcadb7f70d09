import type { RawBuilder, SqlBool } from 'kysely';
import { parseFilter } from './filter.js';
import { type AttrTable, compileFilter } from './filter-sql.js';
import { DEFAULT_COUNT, MAX_COUNT } from './limits.js';
import { parseProjection, type Projection } from './projection.js';
import { LIST_RESPONSE_SCHEMA, type ResourceSchema } from './schema.js';

/** The query of a list request (RFC 7644 §3.4.2): filter, 1-based pagination, projection. `sortBy` is ignored. */
export interface ListRequest {
  readonly where: RawBuilder<SqlBool> | null;
  readonly offset: number;
  readonly limit: number;
  readonly projection: Projection;
}

export interface ListQueryParams {
  filter?: string;
  startIndex?: number;
  count?: number;
  attributes?: string;
  excludedAttributes?: string;
}

export function listRequest(q: ListQueryParams, rs: ResourceSchema, table: AttrTable): ListRequest {
  const filter = q.filter?.trim();
  // startIndex below 1 is 1; a negative count is 0; a count over the maximum is the maximum (§3.4.2.4).
  const start = Math.max(1, q.startIndex ?? 1);
  const count = Math.min(MAX_COUNT, Math.max(0, q.count ?? DEFAULT_COUNT));
  return {
    where: filter ? compileFilter(parseFilter(filter), rs, table) : null,
    offset: start - 1,
    limit: count,
    projection: parseProjection(rs, q.attributes, q.excludedAttributes),
  };
}

export function listBody<T>(total: number, offset: number, resources: T[]) {
  return {
    schemas: [LIST_RESPONSE_SCHEMA],
    totalResults: total,
    startIndex: offset + 1,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}
