import { randomUUID } from 'node:crypto';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import type { JsonSchema } from './routes.js';

/** Generators of hostile input for the fuzz test. Every "invalid" generator here is invalid by construction. */

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
// The same settings the app validates bodies with: no coercion, formats checked.
const ajv = addFormats(new Ajv({ strict: false, coerceTypes: false, useDefaults: true, allErrors: false }));

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** encodeURIComponent that does not throw on lone surrogates (they travel as U+FFFD, as in a browser). */
export function enc(s: string): string {
  return encodeURIComponent(Buffer.from(s).toString());
}

/** Printable ASCII: what a header value may hold. */
export function ascii(maxLength: number, minLength = 0): fc.Arbitrary<string> {
  return fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    minLength,
    maxLength,
  });
}

const NASTY = [
  '',
  ' ',
  'null',
  'undefined',
  '0',
  '-1',
  '1e309',
  'NaN',
  '%00',
  '%zz',
  "' OR 1=1 --",
  '"; drop table users; --',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '{"a":1}',
  '[]',
  '__proto__',
  'constructor',
];

/** What cannot go in a header but can go in a body or a query string. */
const NASTY_TEXT = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfff',
  '\u202egnp.exe',
  '\r\nX-Injected: 1',
  '\t',
  'é',
  '𝕏'.repeat(50),
];

/** Strings people forget: empty, huge, unicode, control characters, SQL and path tricks. */
export const junk: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: ascii(60) },
  { weight: 2, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 1, arbitrary: fc.constantFrom(...NASTY_TEXT) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.integer({ min: 101, max: 20_000 }).map((n) => 'x'.repeat(n)) },
);

/** Header-safe junk (printable ASCII only; Node refuses anything else before we see it). */
export const headerJunk: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: ascii(80) },
  { weight: 2, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 1, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.integer({ min: 101, max: 8000 }).map((n) => 'y'.repeat(n)) },
);

export const cookieJunk: fc.Arbitrary<string> = fc.oneof(
  headerJunk,
  headerJunk.map((v) => `lk_session=${v}`),
  fc.tuple(headerJunk, headerJunk).map(([a, b]) => `lk_session=${a}; lk_session=${b}`),
  fc.constantFrom(
    'lk_session=',
    'lk_session',
    '=; =; =',
    'lk_session=%E0%A4%A',
    `lk_session=${'z'.repeat(5000)}`,
  ),
);

export const authorizationJunk: fc.Arbitrary<string> = fc.oneof(
  headerJunk,
  headerJunk.map((v) => `Bearer ${v}`),
  headerJunk.map((v) => `Basic ${Buffer.from(v).toString('base64')}`),
  ascii(60).map((v) => `Bearer lk_pat_${v.replace(/\s/g, '')}`),
  fc.constantFrom(
    'Bearer',
    'Bearer ',
    'bearer  x',
    'Bearer a b c',
    'Token abc',
    'Bearer lk_at_',
    'Negotiate',
  ),
);

export const originJunk: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'null',
    'https://evil.example',
    'http://localhost:8485',
    'https://localhost:8484',
    'http://localhost',
    'http://localhost:8484.evil.example',
    'file://',
  ),
  headerJunk,
);

/** A media type the API has no parser for (never JSON; text/plain is handled separately). */
export const foreignContentType: fc.Arbitrary<string> = fc
  .oneof(
    fc.constantFrom(
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      'application/octet-stream',
      'application/problem+json',
      'application/jsonx',
      'text/html',
      'text/json',
      'image/png',
      'application/json-patch+json',
    ),
    ascii(40, 1),
  )
  .filter((ct) => !/^\s*(application\/json|text\/plain)\s*(;|$)/i.test(ct));

/** Text a JSON parser refuses. */
export const brokenJson: fc.Arbitrary<string> = fc
  .oneof(
    fc.constantFrom(
      '',
      '{',
      '}',
      '[1,2',
      '{"email":',
      '{"a":1}}',
      "{'a':1}",
      'nul',
      'tru',
      '{"a":01}',
      '\u0000',
      '{"a":"\\x"}',
      '  ',
    ),
    fc.string({ maxLength: 60 }),
  )
  .filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  });

/** Query strings: junk keys and values, repeated keys, raw bad escapes. */
export const queryJunk: fc.Arbitrary<string> = fc.oneof(
  fc.constant(''),
  fc
    .array(fc.tuple(junk, junk), { maxLength: 4 })
    .map((kv) => (kv.length ? `?${kv.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&')}` : '')),
  fc.constantFrom(
    '?',
    '?&&',
    '?=',
    '?a',
    '?a=1&a=2',
    '?limit=0',
    '?limit=-1',
    '?limit=501',
    '?limit=abc',
    '?cursor=%%',
    '?token=',
    '?%zz=1',
  ),
);

/** Timestamps at and past the edges of what JavaScript and PostgreSQL can represent. */
export const dateJunk: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '0000-01-01T00:00:00Z',
    '0001-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '+275760-09-13T00:00:00Z',
    '-000001-01-01T00:00:00Z',
    '2024-02-30T00:00:00Z',
    '2024-01-01T24:00:00Z',
    '2024-01-01T00:00:60Z',
    '2024-01-01T00:00:00+25:00',
    '2024-01-01T00:00:00.123456789Z',
    '2024-01-01',
    'yesterday',
  ),
  fc
    .date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true })
    .map((d) => d.toISOString()),
  junk,
);

/** Keyset cursors: well-formed base64url JSON with hostile members, and plain junk. */
export const cursorJunk: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.oneof(dateJunk, fc.constantFrom('99999', '0', '-1', '1e21')),
      fc.oneof(
        fc.uuid(),
        fc.constantFrom('0'.repeat(36), '-'.repeat(36), 'f'.repeat(36), `${'0'.repeat(35)}\u0000`),
        junk,
      ),
    )
    .map((pair) => Buffer.from(JSON.stringify(pair)).toString('base64url')),
  fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url')),
  junk,
);

export const intJunk: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '0',
    '-1',
    '1',
    '500',
    '501',
    '1e3',
    '1.5',
    '9999999999999999999999',
    '0x10',
    ' 5',
    '',
    'NaN',
  ),
  fc.integer().map(String),
);

/** A junk value for a declared query parameter, aimed at what its schema lets through. */
export function queryValue(name: string, schema: JsonSchema): fc.Arbitrary<string> {
  if (name === 'cursor') return cursorJunk;
  if (schema.format === 'date-time') return dateJunk;
  if (schema.type === 'integer' || schema.type === 'number') return intJunk;
  return junk;
}

/** A value that satisfies a schema, built from it (a base for single-fault mutations). */
export function sampleOf(s: JsonSchema | undefined, key = ''): unknown {
  if (!s) return null;
  if (Array.isArray(s.enum)) return s.enum[s.enum.length - 1];
  if ('const' in s) return s.const;
  const anyOf = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(anyOf)) return sampleOf(anyOf[anyOf.length - 1], key);
  switch (s.type) {
    case 'object': {
      const props = s.properties ?? {};
      const keys = s.required?.length ? s.required : Object.keys(props).slice(0, 1);
      return Object.fromEntries(keys.map((k) => [k, sampleOf(props[k], k)]));
    }
    case 'string':
      if (s.format === 'uuid') return randomUUID();
      if (key.includes('email')) return 'fuzz@example.com';
      if (key.includes('password')) return 'a sturdy passphrase 42';
      return 'fuzz';
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 1;
    case 'boolean':
      return true;
    case 'array': {
      const min = typeof s.minItems === 'number' ? s.minItems : 0;
      return Array.from({ length: min }, () => sampleOf(s.items as JsonSchema | undefined, key));
    }
    default:
      return null;
  }
}

const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(ascii(8), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
  fc.constantFrom('x'.repeat(300), 'x'.repeat(20_000), '', ' ', '\u0000', 'not-a-uuid', 'OWNER'),
  junk,
);

/**
 * Bodies the route's schema refuses: random JSON, non-objects, one required field missing, one
 * field of the wrong type or size, one unknown field. Filtered through the schema itself, so a
 * body that happens to be valid is never sent as "invalid".
 */
export function invalidBody(schema: JsonSchema): fc.Arbitrary<unknown> {
  const validate = ajv.compile(schema);
  const props = Object.keys(schema.properties ?? {});
  const base = sampleOf(schema) as Record<string, unknown>;
  const unknownKey = fc
    .oneof(
      ascii(20, 1),
      fc.constantFrom('__proto__', 'constructor', 'admin', 'role', 'id', 'org_id', 'user_id', 'is_owner'),
    )
    .filter((k) => !props.includes(k));
  const arbs: fc.Arbitrary<unknown>[] = [
    fc.jsonValue({ maxDepth: 3 }),
    fc.oneof(
      fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
      fc.string(),
      fc.integer(),
      fc.constant(null),
      fc.boolean(),
    ),
    fc.tuple(unknownKey, fc.jsonValue({ maxDepth: 1 })).map(([k, v]) => ({ ...base, [k]: v })),
  ];
  if (props.length)
    arbs.push(fc.tuple(fc.constantFrom(...props), wrongValue).map(([k, v]) => ({ ...base, [k]: v })));
  if (schema.required?.length) {
    arbs.push(
      fc
        .constantFrom(...schema.required)
        .map((k) => Object.fromEntries(Object.entries(base).filter(([x]) => x !== k))),
    );
  }
  return fc.oneof(...arbs).filter((b) => !validate(structuredClone(b)));
}

export function isValidFor(schema: JsonSchema, body: unknown): boolean {
  return ajv.compile(schema)(structuredClone(body)) as boolean;
}
