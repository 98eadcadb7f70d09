import { ScimError } from './errors.js';
import { type AttrPath, type Filter, type PatchPath, parsePath } from './filter.js';
import { MAX_PATCH_OPERATIONS } from './limits.js';
import {
  type AttrDef,
  extensionAsAttr,
  findAttr,
  findExtension,
  PATCH_OP_SCHEMA,
  type ResourceSchema,
} from './schema.js';

/**
 * SCIM PATCH (RFC 7644 §3.5.2) over a resource's JSON representation, and the same writes for
 * POST and PUT bodies (a body is a path-less `replace` onto an empty document). Attribute names
 * resolve case-insensitively against the resource schema into their canonical spelling.
 * Attributes Latchkey does not keep (an enterprise `department`, `phoneNumbers`…) are ignored, as
 * RFC 7644 §3.3 allows, so an identity provider's full profile does not fail the request;
 * read-only ones are ignored in bodies and refused (`mutability`) when a path names them.
 * This module does NOT check values beyond their JSON type: the resource parsers do.
 */

export type Doc = Record<string, unknown>;

export interface PatchOperation {
  readonly op: 'add' | 'replace' | 'remove';
  readonly path: PatchPath | null;
  readonly value: unknown;
}

interface Target {
  def: AttrDef;
  holder: Doc;
  sub: AttrDef | null;
  filter: Filter | null;
}

const isObject = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a PatchOp message: `op` in any case (Entra sends `Replace`), `path` parsed up front. */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isObject(body)) throw new ScimError('invalid_syntax', 'The body must be a PatchOp message.');
  const schemas = body.schemas;
  if (
    !Array.isArray(schemas) ||
    !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase())
  )
    throw new ScimError('invalid_syntax', `The body's schemas must include ${PATCH_OP_SCHEMA}.`);
  const ops = body.Operations ?? body.operations;
  if (!Array.isArray(ops) || ops.length === 0)
    throw new ScimError('invalid_syntax', 'Operations must be a non-empty array.');
  if (ops.length > MAX_PATCH_OPERATIONS)
    throw new ScimError('invalid_syntax', `A PATCH holds at most ${MAX_PATCH_OPERATIONS} operations.`);
  return ops.map((o: unknown) => {
    if (!isObject(o)) throw new ScimError('invalid_syntax', 'Each operation must be an object.');
    const op = typeof o.op === 'string' ? o.op.toLowerCase() : '';
    if (op !== 'add' && op !== 'replace' && op !== 'remove')
      throw new ScimError('invalid_syntax', 'Each operation\'s "op" must be add, replace or remove.');
    if (o.path !== undefined && typeof o.path !== 'string')
      throw new ScimError('invalid_path', 'A path must be a string.');
    const path = typeof o.path === 'string' && o.path.trim() !== '' ? parsePath(o.path.trim()) : null;
    if (op !== 'remove' && !('value' in o))
      throw new ScimError('invalid_syntax', `An ${op} operation needs a value.`);
    if (op === 'remove' && !path) throw new ScimError('no_target', 'A remove operation needs a path.');
    return { op, path, value: o.value };
  });
}

/** Applies the operations to `doc` in order, in place. */
export function applyPatch(doc: Doc, rs: ResourceSchema, ops: readonly PatchOperation[]): void {
  for (const o of ops) {
    if (!o.path) {
      // add/replace without a path: the value's members name the attributes.
      if (!isObject(o.value))
        throw new ScimError('invalid_value', 'Without a path, the value must be an object.');
      writeMembers(doc, rs, o.value, o.op === 'add' ? 'add' : 'replace');
      continue;
    }
    const t = resolve(doc, rs, o.path.path);
    if (!t) continue;
    t.filter = o.path.filter;
    if (o.path.filter) {
      if (!t.def.multiValued) throw new ScimError('invalid_path', `${t.def.name} is not multi-valued.`);
      t.sub = o.path.sub ? subOf(t.def, o.path.sub) : null;
      if (o.path.sub && !t.sub) continue;
    }
    if (o.op === 'remove') remove(t, o.value);
    else write(t, o.value, o.op, true);
  }
}

/** A POST or PUT body as a document of the attributes Latchkey keeps, canonically spelled. */
export function documentFrom(body: Doc, rs: ResourceSchema): Doc {
  const doc: Doc = {};
  writeMembers(doc, rs, body, 'replace');
  return doc;
}

function writeMembers(doc: Doc, rs: ResourceSchema, value: Doc, op: 'add' | 'replace'): void {
  for (const [k, v] of Object.entries(value)) {
    if (k.toLowerCase() === 'schemas') continue;
    const ext = findExtension(rs, k);
    let t: Target | null;
    if (ext) {
      t = { def: extensionAsAttr(ext), holder: doc, sub: null, filter: null };
    } else {
      let p: PatchPath;
      try {
        p = parsePath(k);
      } catch {
        continue; // not an attribute name at all: nothing Latchkey keeps
      }
      if (p.filter) continue;
      t = resolve(doc, rs, p.path);
    }
    if (t) write(t, v, op, false);
  }
}

function subOf(def: AttrDef, name: string): AttrDef | null {
  if (def.type !== 'complex') throw new ScimError('invalid_path', `${def.name} has no sub-attributes.`);
  return findAttr(def.subAttributes, name) ?? null;
}

/** Where `path` points in `doc`; null when it names nothing Latchkey keeps. */
function resolve(doc: Doc, rs: ResourceSchema, path: AttrPath): Target | null {
  let def: AttrDef | undefined;
  let holder = doc;
  if (path.uri !== null) {
    const whole = findExtension(rs, `${path.uri}:${path.attr}`);
    if (whole) {
      def = extensionAsAttr(whole);
    } else if (path.uri.toLowerCase() === rs.core.id.toLowerCase()) {
      def = findAttr(rs.core.attributes, path.attr);
    } else {
      const ext = findExtension(rs, path.uri);
      def = ext ? findAttr(ext.attributes, path.attr) : undefined;
      if (ext && def) {
        if (!isObject(doc[ext.id])) doc[ext.id] = {};
        holder = doc[ext.id] as Doc;
      }
    }
  } else {
    def = findAttr(rs.core.attributes, path.attr);
  }
  if (!def) return null;
  const sub = path.sub ? subOf(def, path.sub) : null;
  if (path.sub && !sub) return null;
  return { def, holder, sub, filter: null };
}

function readOnly(t: Target): boolean {
  return t.def.mutability === 'readOnly' || t.sub?.mutability === 'readOnly';
}

function write(t: Target, value: unknown, op: 'add' | 'replace', explicit: boolean): void {
  if (readOnly(t)) {
    if (explicit) throw new ScimError('mutability', `${t.sub?.name ?? t.def.name} is read-only.`);
    return;
  }
  const key = t.def.name;
  if (value === null && !t.filter) {
    // RFC 7643 §2.5: null is unassigned.
    if (t.sub && isObject(t.holder[key])) delete (t.holder[key] as Doc)[t.sub.name];
    else if (!t.sub) delete t.holder[key];
    return;
  }
  if (t.filter) return writeFiltered(t, value, op);
  if (t.sub) {
    if (t.def.multiValued) {
      for (const el of elements(t.holder[key])) el[t.sub.name] = coerce(value, t.sub);
    } else {
      const obj = isObject(t.holder[key]) ? (t.holder[key] as Doc) : {};
      obj[t.sub.name] = coerce(value, t.sub);
      t.holder[key] = obj;
    }
  } else if (t.def.multiValued) {
    const items = (Array.isArray(value) ? value : [value]).map((v) => element(v, t.def));
    t.holder[key] = dedupe(op === 'replace' ? items : [...elements(t.holder[key]), ...items]);
  } else if (t.def.type === 'complex') {
    if (!isObject(value)) throw new ScimError('invalid_value', `${key} must be an object.`);
    const obj = isObject(t.holder[key]) ? (t.holder[key] as Doc) : {};
    mergeInto(obj, value, t.def);
    t.holder[key] = obj;
  } else {
    t.holder[key] = coerce(value, t.def);
  }
}

/** add/replace at `attr[filter]` or `attr[filter].sub`. */
function writeFiltered(t: Target, value: unknown, op: 'add' | 'replace'): void {
  const key = t.def.name;
  const list = elements(t.holder[key]);
  const hits = list.filter((el) => matches(t.filter!, el, t.def));
  if (hits.length === 0) {
    // `emails[type eq "work"].value` on a person without a work address creates one, as Entra expects.
    const seed = simpleEquality(t.filter!, t.def);
    if (!seed) throw new ScimError('no_target', `No value of ${key} matches the path's filter.`);
    const el: Doc = { [seed.name]: seed.value };
    if (t.sub) el[t.sub.name] = coerce(value, t.sub);
    else mergeInto(el, asObject(value, key), t.def);
    t.holder[key] = dedupe([...list, el]);
    return;
  }
  for (const el of hits) {
    if (t.sub) {
      if (value === null) delete el[t.sub.name];
      else el[t.sub.name] = coerce(value, t.sub);
    } else {
      if (op === 'replace') for (const k of Object.keys(el)) delete el[k];
      mergeInto(el, asObject(value, key), t.def);
    }
  }
  t.holder[key] = list;
}

function remove(t: Target, value: unknown): void {
  if (readOnly(t)) throw new ScimError('mutability', `${t.sub?.name ?? t.def.name} is read-only.`);
  const key = t.def.name;
  if (t.filter) {
    const list = elements(t.holder[key]);
    if (t.sub) {
      for (const el of list) if (matches(t.filter, el, t.def)) delete el[t.sub.name];
      t.holder[key] = list;
    } else {
      t.holder[key] = list.filter((el) => !matches(t.filter!, el, t.def));
    }
    return;
  }
  if (t.sub) {
    if (t.def.multiValued) for (const el of elements(t.holder[key])) delete el[t.sub.name];
    else if (isObject(t.holder[key])) delete (t.holder[key] as Doc)[t.sub.name];
    return;
  }
  if (t.def.multiValued && value !== undefined && value !== null) {
    // Entra and others name the values to remove: {"op":"remove","path":"members","value":[{"value":"…"}]}
    const gone = new Set(
      (Array.isArray(value) ? value : [value]).map((v) => String(isObject(v) ? v.value : v).toLowerCase()),
    );
    t.holder[key] = elements(t.holder[key]).filter((el) => !gone.has(String(el.value).toLowerCase()));
    return;
  }
  delete t.holder[key];
}

function asObject(v: unknown, name: string): Doc {
  if (!isObject(v)) throw new ScimError('invalid_value', `A value of ${name} must be an object.`);
  return v;
}

function elements(v: unknown): Doc[] {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

/** One value of a multi-valued complex attribute, with its sub-attributes canonically spelled. */
function element(v: unknown, def: AttrDef): Doc {
  const el: Doc = {};
  mergeInto(el, asObject(v, def.name), def);
  return el;
}

function mergeInto(target: Doc, value: Doc, def: AttrDef): void {
  for (const [k, v] of Object.entries(value)) {
    const sd = findAttr(def.subAttributes, k);
    if (!sd || sd.mutability === 'readOnly') continue;
    if (v === null) delete target[sd.name];
    else target[sd.name] = coerce(v, sd);
  }
}

/** Later duplicates (same `value`, case-insensitively) are dropped. */
function dedupe(list: Doc[]): Doc[] {
  const seen = new Set<string>();
  return list.filter((el) => {
    if (el.value === undefined) return true;
    const k = String(el.value).toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** A value in the attribute's JSON type; booleans also from "True"/"False" strings (Entra sends those). */
function coerce(v: unknown, def: AttrDef): unknown {
  if (def.type === 'boolean') {
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
    throw new ScimError('invalid_value', `${def.name} must be true or false.`);
  }
  if (def.type === 'complex') {
    if (!isObject(v)) throw new ScimError('invalid_value', `${def.name} must be an object.`);
    const obj: Doc = {};
    mergeInto(obj, v, def);
    return obj;
  }
  if (typeof v !== 'string') throw new ScimError('invalid_value', `${def.name} must be a string.`);
  return v;
}

/** For `attr[sub eq "x"]`: the sub-attribute and value a new element gets when none matches. */
function simpleEquality(f: Filter, def: AttrDef): { name: string; value: string } | null {
  if (f.kind !== 'compare' || f.op !== 'eq' || typeof f.value !== 'string' || f.path.sub || f.path.uri)
    return null;
  const sd = findAttr(def.subAttributes, f.path.attr);
  return sd && sd.mutability !== 'readOnly' ? { name: sd.name, value: f.value } : null;
}

/** Whether one value of a multi-valued attribute matches a value filter (sub-attribute paths). */
export function matches(f: Filter, el: Doc, def: AttrDef): boolean {
  switch (f.kind) {
    case 'logical':
      return f.op === 'and'
        ? matches(f.left, el, def) && matches(f.right, el, def)
        : matches(f.left, el, def) || matches(f.right, el, def);
    case 'not':
      return !matches(f.filter, el, def);
    case 'valuePath':
      throw new ScimError('invalid_path', 'Value filters do not nest.');
    case 'present':
    case 'compare': {
      const sd = f.path.sub || f.path.uri ? undefined : findAttr(def.subAttributes, f.path.attr);
      if (!sd) throw new ScimError('invalid_path', `${def.name} has no sub-attribute ${f.path.attr}.`);
      const v = el[sd.name];
      if (f.kind === 'present') return v !== undefined && v !== null && v !== '';
      return compare(f.op, v, f.value);
    }
  }
}

function compare(op: string, v: unknown, lit: unknown): boolean {
  if (lit === null) return op === 'eq' ? v === undefined || v === null : op === 'ne' && v != null;
  if (v === undefined || v === null) return op === 'ne';
  if (typeof lit === 'boolean' || typeof v === 'boolean') {
    const b = typeof v === 'string' ? v.toLowerCase() === 'true' : v;
    if (op === 'eq') return b === lit;
    if (op === 'ne') return b !== lit;
    return false;
  }
  const a = String(v).toLowerCase();
  const b = String(lit).toLowerCase();
  switch (op) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'co':
      return a.includes(b);
    case 'sw':
      return a.startsWith(b);
    case 'ew':
      return a.endsWith(b);
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
    case 'lt':
      return a < b;
    default:
      return a <= b;
  }
}
