import { type RawBuilder, type SqlBool, sql } from 'kysely';
import { likeEscape } from '../db/like.js';
import { ScimError } from './errors.js';
import type { AttrPath, CompareOp, Filter, Literal } from './filter.js';
import type { ResourceSchema } from './schema.js';

/**
 * Compiles a filter AST to a SQL boolean over fixed column expressions. Attribute names map to
 * expressions from the resource's `AttrTable`, never to text from the request; every literal is a bound
 * parameter (`sql` template interpolation), so a filter can change what is compared, never the
 * statement. Each comparison is two-valued (an absent attribute is simply not equal), so `not`
 * means what it says.
 */

type ScalarType = 'string' | 'boolean' | 'dateTime';

interface Scalar {
  readonly kind: 'scalar';
  readonly type: ScalarType;
  readonly expr: RawBuilder<unknown>;
  /** false: compared case-insensitively (userName, names, emails…). */
  readonly caseExact: boolean;
}

/** A multi-valued attribute: its values are the rows of `source` (where `link`), each with these sub-attributes. */
interface Multi {
  readonly kind: 'multi';
  readonly source: RawBuilder<unknown>;
  readonly link: RawBuilder<unknown> | null;
  readonly subs: Readonly<Record<string, Scalar>>;
}

/**
 * What a filter may name on one resource type: lower-cased attribute names (`name.givenname`,
 * extension attributes with their URN) to column expressions. Each resource's table sits beside
 * its queries (`users/queries.ts`, `groups/queries.ts`), over the aliases they select from.
 */
export type AttrTable = Readonly<Record<string, Scalar | Multi>>;

/** A string attribute; compared case-insensitively unless `caseExact` (as externalId is). */
export const stringAttr = (expr: RawBuilder<unknown>, caseExact = false): Scalar => ({
  kind: 'scalar',
  type: 'string',
  expr,
  caseExact,
});

export const dateTimeAttr = (expr: RawBuilder<unknown>): Scalar => ({
  kind: 'scalar',
  type: 'dateTime',
  expr,
  caseExact: true,
});

export const booleanAttr = (expr: RawBuilder<unknown>): Scalar => ({
  kind: 'scalar',
  type: 'boolean',
  expr,
  caseExact: true,
});

/** `urn:…:core:2.0:User:name.givenName` → `name.givenname`; extensions keep their URN. */
function keyOf(rs: ResourceSchema, p: AttrPath): { key: string; sub: string | null } {
  const attr = p.attr.toLowerCase();
  const sub = p.sub?.toLowerCase() ?? null;
  const uri = p.uri?.toLowerCase() ?? null;
  if (uri === null || uri === rs.core.id.toLowerCase()) return { key: attr, sub };
  return { key: `${uri}:${attr}`, sub };
}

function unknown(p: AttrPath): never {
  const name = `${p.uri ? `${p.uri}:` : ''}${p.attr}${p.sub ? `.${p.sub}` : ''}`;
  throw new ScimError(
    'invalid_filter',
    `The filter names an attribute that cannot be filtered on: ${JSON.stringify(name.slice(0, 100))}.`,
  );
}

/** The filter as a SQL boolean over `table`. Unknown attributes and mistyped values → `invalidFilter`. */
export function compileFilter(f: Filter, rs: ResourceSchema, table: AttrTable): RawBuilder<SqlBool> {
  switch (f.kind) {
    case 'logical': {
      const l = compileFilter(f.left, rs, table);
      const r = compileFilter(f.right, rs, table);
      return f.op === 'and' ? sql<SqlBool>`(${l} and ${r})` : sql<SqlBool>`(${l} or ${r})`;
    }
    case 'not':
      return sql<SqlBool>`(not ${compileFilter(f.filter, rs, table)})`;
    case 'valuePath': {
      const { key, sub } = keyOf(rs, f.path);
      const a = table[key];
      if (sub || a?.kind !== 'multi') unknown(f.path);
      return exists(a, compileElement(f.filter, a, f.path));
    }
    case 'present':
    case 'compare': {
      const { key, sub } = keyOf(rs, f.path);
      const a = table[key] ?? (sub ? table[`${key}.${sub}`] : undefined);
      if (!a) unknown(f.path);
      if (a.kind === 'scalar') {
        // `name.givenName` is one key; a sub-attribute of a simple attribute is not.
        if (sub && !table[`${key}.${sub}`]) unknown(f.path);
        return term(f, a);
      }
      // A multi-valued attribute without a sub-attribute filters on its `value` (RFC 7644 §3.4.2.2).
      const s = a.subs[sub ?? 'value'];
      if (!s) unknown(f.path);
      return exists(a, term(f, s));
    }
  }
}

/** Inside `emails[…]`: paths name sub-attributes of one value. */
function compileElement(f: Filter, a: Multi, outer: AttrPath): RawBuilder<SqlBool> {
  switch (f.kind) {
    case 'logical': {
      const l = compileElement(f.left, a, outer);
      const r = compileElement(f.right, a, outer);
      return f.op === 'and' ? sql<SqlBool>`(${l} and ${r})` : sql<SqlBool>`(${l} or ${r})`;
    }
    case 'not':
      return sql<SqlBool>`(not ${compileElement(f.filter, a, outer)})`;
    case 'valuePath':
      throw new ScimError('invalid_filter', 'Value filters do not nest.');
    case 'present':
    case 'compare': {
      const s = f.path.uri || f.path.sub ? undefined : a.subs[f.path.attr.toLowerCase()];
      if (!s) unknown({ uri: null, attr: outer.attr, sub: f.path.attr });
      return term(f, s);
    }
  }
}

function exists(a: Multi, cond: RawBuilder<SqlBool>): RawBuilder<SqlBool> {
  return a.link
    ? sql<SqlBool>`exists (select 1 from ${a.source} where ${a.link} and ${cond})`
    : sql<SqlBool>`exists (select 1 from ${a.source} where ${cond})`;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

function term(f: Extract<Filter, { kind: 'present' | 'compare' }>, s: Scalar): RawBuilder<SqlBool> {
  const e = s.expr;
  if (f.kind === 'present') {
    return s.type === 'string'
      ? sql<SqlBool>`(${e} is not null and ${e} <> '')`
      : sql<SqlBool>`(${e} is not null)`;
  }
  const { op, value } = f;
  if (value === null) {
    if (op === 'eq') return sql<SqlBool>`(${e} is null)`;
    if (op === 'ne') return sql<SqlBool>`(${e} is not null)`;
    throw new ScimError('invalid_filter', `null can only be compared with eq or ne.`);
  }
  switch (s.type) {
    case 'boolean':
      return booleanTerm(op, value, e);
    case 'dateTime':
      return dateTerm(op, value, e);
    default:
      return stringTerm(op, value, s);
  }
}

function booleanTerm(op: CompareOp, value: Literal, e: RawBuilder<unknown>): RawBuilder<SqlBool> {
  const b =
    typeof value === 'boolean'
      ? value
      : typeof value === 'string' && /^(true|false)$/i.test(value)
        ? value.toLowerCase() === 'true'
        : undefined;
  if (b === undefined)
    throw new ScimError('invalid_filter', 'A boolean attribute compares with true or false.');
  if (op === 'eq') return sql<SqlBool>`coalesce(${e} = ${b}, false)`;
  if (op === 'ne') return sql<SqlBool>`coalesce(${e} <> ${b}, true)`;
  throw new ScimError('invalid_filter', `A boolean attribute cannot be compared with ${op}.`);
}

function dateTerm(op: CompareOp, value: Literal, e: RawBuilder<unknown>): RawBuilder<SqlBool> {
  const at = typeof value === 'string' && ISO_DATE.test(value) ? new Date(value) : null;
  if (!at || Number.isNaN(at.getTime()))
    throw new ScimError('invalid_filter', 'A date compares with an RFC 3339 date-time string.');
  switch (op) {
    case 'eq':
      return sql<SqlBool>`coalesce(${e} = ${at}, false)`;
    case 'ne':
      return sql<SqlBool>`coalesce(${e} <> ${at}, true)`;
    case 'gt':
      return sql<SqlBool>`coalesce(${e} > ${at}, false)`;
    case 'ge':
      return sql<SqlBool>`coalesce(${e} >= ${at}, false)`;
    case 'lt':
      return sql<SqlBool>`coalesce(${e} < ${at}, false)`;
    case 'le':
      return sql<SqlBool>`coalesce(${e} <= ${at}, false)`;
    default:
      throw new ScimError('invalid_filter', `A date cannot be compared with ${op}.`);
  }
}

function stringTerm(op: CompareOp, value: Literal, s: Scalar): RawBuilder<SqlBool> {
  if (typeof value !== 'string')
    throw new ScimError('invalid_filter', 'A string attribute compares with a string.');
  const e = s.caseExact ? s.expr : sql`lower(${s.expr})`;
  const v = s.caseExact ? sql`${value}` : sql`lower(${value})`;
  const like = (pattern: string) => {
    const p = s.caseExact ? sql`${pattern}` : sql`lower(${pattern})`;
    return sql<SqlBool>`coalesce(${e} like ${p}, false)`;
  };
  switch (op) {
    case 'eq':
      return sql<SqlBool>`coalesce(${e} = ${v}, false)`;
    case 'ne':
      return sql<SqlBool>`coalesce(${e} <> ${v}, true)`;
    case 'co':
      return like(`%${likeEscape(value)}%`);
    case 'sw':
      return like(`${likeEscape(value)}%`);
    case 'ew':
      return like(`%${likeEscape(value)}`);
    case 'gt':
      return sql<SqlBool>`coalesce(${e} > ${v}, false)`;
    case 'ge':
      return sql<SqlBool>`coalesce(${e} >= ${v}, false)`;
    case 'lt':
      return sql<SqlBool>`coalesce(${e} < ${v}, false)`;
    case 'le':
      return sql<SqlBool>`coalesce(${e} <= ${v}, false)`;
  }
}
