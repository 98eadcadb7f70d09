/**
 * Schema validation errors (Ajv error objects, as Fastify hands them over) turned into one sentence
 * a person can act on: "`role` must be one of owner, admin, member, billing." — never schema text.
 * The sentence names the field and what it must be; it never repeats the value that was sent.
 */
export interface AjvErrorObject {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
}

const WHOLE: Record<string, string> = {
  body: 'The request body',
  querystring: 'The query string',
  params: 'The path',
  headers: 'The request headers',
};

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  array: 'an array',
  object: 'an object',
  null: 'null',
};

const FORMAT_NAMES: Record<string, string> = {
  email: 'an email address',
  uuid: 'a UUID',
  uri: 'an absolute URL',
  url: 'an absolute URL',
  'uri-reference': 'a URL',
  'date-time': 'a date and time (RFC 3339, e.g. 2026-01-31T12:00:00Z)',
  date: 'a date (e.g. 2026-01-31)',
  time: 'a time of day',
  hostname: 'a host name',
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  regex: 'a regular expression',
};

/** `a.b[0].c` from the JSON Pointer `/a/b/0/c`. */
function fieldName(pointer: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

function subject(pointer: string, context: string): string {
  const name = fieldName(pointer);
  return name === '' ? (WHOLE[context] ?? 'The request') : `\`${name}\``;
}

function plural(n: unknown, one: string, many: string): string {
  return `${String(n)} ${n === 1 ? one : many}`;
}

function listOf(values: readonly unknown[]): string {
  return values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
}

function typeName(type: unknown): string {
  const types = Array.isArray(type) ? type : [type];
  return types.map((t) => TYPE_NAMES[String(t)] ?? String(t)).join(' or ');
}

/** What the value at `who` must be, for one error object. */
function sentenceFor(e: AjvErrorObject, context: string): string {
  const p = e.params;
  const who = subject(e.instancePath, context);
  switch (e.keyword) {
    case 'required':
      return `${subject(`${e.instancePath}/${String(p.missingProperty)}`, context)} is required.`;
    case 'additionalProperties':
      return `${subject(`${e.instancePath}/${String(p.additionalProperty)}`, context)} is not a field this accepts.`;
    case 'enum':
      return `${who} must be one of ${listOf(p.allowedValues as unknown[])}.`;
    case 'const':
      return `${who} must be ${listOf([p.allowedValue])}.`;
    case 'type':
      return `${who} must be ${typeName(p.type)}.`;
    case 'minLength':
      return p.limit === 1
        ? `${who} must not be empty.`
        : `${who} must be at least ${plural(p.limit, 'character', 'characters')} long.`;
    case 'maxLength':
      return `${who} must be at most ${plural(p.limit, 'character', 'characters')} long.`;
    case 'minimum':
      return `${who} must be at least ${String(p.limit)}.`;
    case 'maximum':
      return `${who} must be at most ${String(p.limit)}.`;
    case 'exclusiveMinimum':
      return `${who} must be greater than ${String(p.limit)}.`;
    case 'exclusiveMaximum':
      return `${who} must be less than ${String(p.limit)}.`;
    case 'minItems':
      return `${who} must have at least ${plural(p.limit, 'item', 'items')}.`;
    case 'maxItems':
      return `${who} must have at most ${plural(p.limit, 'item', 'items')}.`;
    case 'uniqueItems':
      return `${who} must not list the same item twice.`;
    case 'minProperties':
      return `${who} must name at least ${plural(p.limit, 'field', 'fields')}.`;
    case 'maxProperties':
      return `${who} may name at most ${plural(p.limit, 'field', 'fields')}.`;
    case 'format':
      return `${who} must be ${FORMAT_NAMES[String(p.format)] ?? `in ${String(p.format)} format`}.`;
    case 'pattern':
      return `${who} is not in the expected form.`;
    default:
      return `${who} is not valid.`;
  }
}

/**
 * A union (`anyOf` / `oneOf`) reports each branch's failure, then its own. When every branch at
 * the union's place was a fixed value or a type, the sentence lists them all.
 */
function unionSentence(errors: readonly AjvErrorObject[], union: AjvErrorObject, context: string) {
  const who = subject(union.instancePath, context);
  const branches = errors.filter((e) => e !== union && e.instancePath === union.instancePath);
  if (branches.length > 0 && branches.every((e) => e.keyword === 'const' || e.keyword === 'enum')) {
    const values = branches.flatMap((e) =>
      e.keyword === 'const' ? [e.params.allowedValue] : (e.params.allowedValues as unknown[]),
    );
    return `${who} must be one of ${listOf([...new Set(values)])}.`;
  }
  if (branches.length > 0 && branches.every((e) => e.keyword === 'type')) {
    return `${who} must be ${typeName([...new Set(branches.flatMap((e) => [e.params.type].flat()))])}.`;
  }
  // A branch failed deeper inside the value (a field of an object): that is the useful sentence.
  const deeper = errors.find((e) => e.instancePath.startsWith(`${union.instancePath}/`));
  return deeper ? sentenceFor(deeper, context) : `${who} is not in an accepted form.`;
}

/** One sentence for the validation errors of one part of a request (`body`, `querystring`…). */
export function validationSentence(errors: readonly AjvErrorObject[], context = 'body'): string {
  const union = errors.find((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  if (union) return unionSentence(errors, union, context);
  const first = errors[0];
  return first ? sentenceFor(first, context) : `${WHOLE[context] ?? 'The request'} is not valid.`;
}
