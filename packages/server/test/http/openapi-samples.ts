import { randomUUID } from 'node:crypto';
import { uniqueEmail } from '../helpers/harness.js';

type Schema = Record<string, unknown>;

/** Strings tried, in order, against a `pattern` the sample must match. */
const PATTERN_CANDIDATES = ['sample', 'sample-1', 'a', 'A1', '123456', 'example.com', 'abc_def', 'x'];

/**
 * A value the schema accepts, built from the schema alone: an example when it gives one, else the
 * first of an enum, else the least value of its type (required object members only). Strings get
 * a value of their format, fresh each time (emails and ids never collide between calls).
 */
export function sampleOf(schema: Schema | undefined, name = ''): unknown {
  if (!schema) return undefined;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if (schema.default !== undefined) return schema.default;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = schema[key] as Schema[] | undefined;
    if (branches) return sampleOf(branches.find((b) => b.type !== 'null') ?? branches[0]);
  }
  if (Array.isArray(schema.allOf)) return sampleOf(Object.assign({}, ...(schema.allOf as Schema[])));
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = (schema.required ?? []) as string[];
      const out: Record<string, unknown> = {};
      for (const key of required) out[key] = sampleOf(props[key], key);
      return out;
    }
    case 'array': {
      const n = Math.max(Number(schema.minItems ?? 0), 1);
      return Array.from({ length: n }, () => sampleOf(schema.items as Schema | undefined, name));
    }
    case 'integer':
    case 'number':
      if (schema.minimum !== undefined) return Number(schema.minimum);
      return schema.exclusiveMinimum !== undefined ? Number(schema.exclusiveMinimum) + 1 : 1;
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'string':
      return sampleString(schema, name);
    default:
      return {};
  }
}

/** Plain strings whose member name says what they hold. */
const BY_NAME: [RegExp, () => string][] = [
  [/email/, () => uniqueEmail('contract')],
  [/password/, () => 'a sturdy contract passphrase 42'],
  [/ur[il]/, () => 'https://app.example.com/callback'],
  [/domain/, () => `contract-${randomUUID().slice(0, 8)}.example.com`],
  [/slug/, () => `contract-${randomUUID().slice(0, 8)}`],
];

function sampleString(schema: Schema, name: string): string {
  const min = Number(schema.minLength ?? 0);
  const max = Number(schema.maxLength ?? 64);
  const named = BY_NAME.find(([re]) => re.test(name));
  if (named && schema.format === undefined) return named[1]();
  switch (schema.format) {
    case 'email':
      return uniqueEmail('contract');
    case 'uuid':
      return randomUUID();
    case 'uri':
    case 'url':
      return 'https://example.com/callback';
    case 'date-time':
      return new Date().toISOString();
    case 'date':
      return new Date().toISOString().slice(0, 10);
    case 'hostname':
      return 'example.com';
  }
  if (typeof schema.pattern === 'string') {
    const re = new RegExp(schema.pattern);
    const fits = PATTERN_CANDIDATES.find((c) => re.test(c) && c.length >= min && c.length <= max);
    if (fits) return fits;
  }
  const base = 'sample-value-';
  const s = base.length >= min ? base.slice(0, Math.max(min, Math.min(max, 12))) : base.padEnd(min, 'x');
  return s.length > 0 ? s : 'x';
}
