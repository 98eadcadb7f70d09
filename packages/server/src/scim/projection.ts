import { ScimError } from './errors.js';
import { parsePath } from './filter.js';
import { MAX_ATTRIBUTES_LENGTH } from './limits.js';
import { findExtension, type ResourceSchema } from './schema.js';

/**
 * `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes a response
 * carries. `id` and `schemas` are always returned. Names are case-insensitive and may carry the
 * schema URN; names that match nothing are ignored.
 */

interface Selector {
  /** Lower-cased top-level key: an attribute name or an extension URN. */
  readonly top: string;
  readonly sub: string | null;
}

export interface Projection {
  readonly include: readonly Selector[] | null;
  readonly exclude: readonly Selector[];
}

export const FULL: Projection = { include: null, exclude: [] };

const ALWAYS = new Set(['id', 'schemas']);

function selectors(rs: ResourceSchema, list: string | undefined): Selector[] {
  if (list === undefined) return [];
  if (list.length > MAX_ATTRIBUTES_LENGTH)
    throw new ScimError('invalid_value', `Attribute lists are at most ${MAX_ATTRIBUTES_LENGTH} characters.`);
  const out: Selector[] = [];
  for (const raw of list.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    const ext = findExtension(rs, item);
    if (ext) {
      out.push({ top: ext.id.toLowerCase(), sub: null });
      continue;
    }
    let p;
    try {
      p = parsePath(item);
    } catch {
      throw new ScimError('invalid_value', `${JSON.stringify(item.slice(0, 100))} is not an attribute name.`);
    }
    if (p.filter) throw new ScimError('invalid_value', 'Attribute lists name attributes, not filters.');
    const uri = p.path.uri?.toLowerCase() ?? null;
    if (uri === null || uri === rs.core.id.toLowerCase()) {
      out.push({ top: p.path.attr.toLowerCase(), sub: p.path.sub?.toLowerCase() ?? null });
    } else if (findExtension(rs, uri)) {
      out.push({ top: uri, sub: p.path.attr.toLowerCase() });
    }
  }
  return out;
}

export function parseProjection(
  rs: ResourceSchema,
  attributes: string | undefined,
  excludedAttributes: string | undefined,
): Projection {
  const include = selectors(rs, attributes);
  return {
    include: attributes !== undefined && include.length > 0 ? include : null,
    exclude: selectors(rs, excludedAttributes),
  };
}

type Doc = Record<string, unknown>;
const isObject = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

function keepSubs(v: unknown, subs: Set<string>, keep: boolean): unknown {
  const one = (o: unknown) =>
    isObject(o)
      ? Object.fromEntries(Object.entries(o).filter(([k]) => subs.has(k.toLowerCase()) === keep))
      : o;
  return Array.isArray(v) ? v.map(one) : one(v);
}

/** The resource with only the selected attributes. */
export function project<T extends Doc>(resource: T, p: Projection): Partial<T> {
  if (p.include === null && p.exclude.length === 0) return resource;
  const out: Doc = {};
  for (const [k, v] of Object.entries(resource)) {
    const key = k.toLowerCase();
    if (ALWAYS.has(key)) {
      out[k] = v;
      continue;
    }
    let value: unknown = v;
    if (p.include) {
      const sels = p.include.filter((s) => s.top === key);
      if (sels.length === 0) continue;
      if (!sels.some((s) => s.sub === null)) value = keepSubs(value, new Set(sels.map((s) => s.sub!)), true);
    }
    const ex = p.exclude.filter((s) => s.top === key);
    if (ex.some((s) => s.sub === null)) continue;
    if (ex.length) value = keepSubs(value, new Set(ex.map((s) => s.sub!)), false);
    out[k] = value;
  }
  return out as Partial<T>;
}

/** Whether a response under `p` carries the top-level attribute `name` (to skip loading what is left out). */
export function carries(p: Projection, name: string): boolean {
  const key = name.toLowerCase();
  if (p.exclude.some((s) => s.top === key && s.sub === null)) return false;
  return p.include === null || p.include.some((s) => s.top === key);
}
