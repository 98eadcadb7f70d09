import { cleanName } from '../lib/names.js';
import { ScimError } from './errors.js';
import { MAX_STRING_LENGTH } from './limits.js';
import { type Doc, documentFrom } from './patch.js';
import type { ResourceSchema } from './schema.js';

/** What every resource body must be, and the value rules both resources read attributes with. */

export const isObject = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON object whose `schemas` names `schema` (case-insensitively); else `invalidSyntax`. */
export function requireSchema(body: unknown, schema: string): Doc {
  if (!isObject(body)) throw new ScimError('invalid_syntax', 'The body must be a JSON object.');
  const s = body.schemas;
  if (!Array.isArray(s) || !s.some((x) => typeof x === 'string' && x.toLowerCase() === schema.toLowerCase()))
    throw new ScimError('invalid_syntax', `The body's schemas must include ${schema}.`);
  return body;
}

/** A POST or PUT body of `rs` as a document of the attributes Latchkey keeps, canonically spelled. */
export function bodyDocument(body: unknown, rs: ResourceSchema): Doc {
  return documentFrom(requireSchema(body, rs.core.id), rs);
}

/** A string attribute: trimmed, bounded, one line for names; empty means unassigned. */
export function text(v: unknown, name: string, oneLine = true): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new ScimError('invalid_value', `${name} must be a string.`);
  const s = oneLine ? cleanName(v) : v.trim();
  if (s.length > MAX_STRING_LENGTH)
    throw new ScimError('invalid_value', `${name} is longer than ${MAX_STRING_LENGTH} characters.`);
  return s === '' ? null : s;
}
