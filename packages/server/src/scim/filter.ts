import { MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, MAX_FILTER_TERMS } from './limits.js';
import { ScimError } from './errors.js';

/**
 * The SCIM filter language (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): a tokenizer and a
 * recursive-descent parser that build an AST. Precedence, tightest first: `not`, `and`, `or`;
 * parentheses group. Keywords and attribute names are case-insensitive. String literals are JSON
 * strings (`\"` escapes a quote). This module only reads text: it knows no attribute, so it does
 * NOT say whether a path names anything — the compilers do.
 */

export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';
export type Literal = string | number | boolean | null;

/** An attribute as written: `[uri:]attr[.sub]`. Names keep their case; compare them lower-cased. */
export interface AttrPath {
  readonly uri: string | null;
  readonly attr: string;
  readonly sub: string | null;
}

export type Filter =
  | { readonly kind: 'logical'; readonly op: 'and' | 'or'; readonly left: Filter; readonly right: Filter }
  | { readonly kind: 'not'; readonly filter: Filter }
  | { readonly kind: 'present'; readonly path: AttrPath }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly path: AttrPath; readonly value: Literal }
  /** `emails[type eq "work"]`: the inner filter's paths name sub-attributes of each value. */
  | { readonly kind: 'valuePath'; readonly path: AttrPath; readonly filter: Filter };

/** A PATCH target: `attrPath`, or `valuePath` optionally followed by `.subAttr`. */
export interface PatchPath {
  readonly path: AttrPath;
  readonly filter: Filter | null;
  readonly sub: string | null;
}

const COMPARE_OPS = new Set<string>(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);
const NAME_RE = /^(?:\$ref|[A-Za-z][A-Za-z0-9_-]*)$/;
const NUMBER_RE = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const WORD_CHAR = /[A-Za-z0-9_$:.\-+]/;

type Token =
  | { t: '(' | ')' | '[' | ']'; at: number }
  | { t: 'string'; value: string; at: number }
  | { t: 'word'; text: string; at: number };

class SyntaxProblem extends Error {}

function fail(message: string, at?: number): never {
  throw new SyntaxProblem(at === undefined ? message : `${message} (at character ${at + 1})`);
}

/** Splits filter text into tokens. Whitespace separates; anything unexpected is a syntax error. */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '(' || c === ')' || c === '[' || c === ']') {
      out.push({ t: c, at: i });
      i++;
    } else if (c === '"') {
      const start = i;
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      if (i >= text.length) fail('unterminated string', start);
      i++;
      let value: unknown;
      try {
        value = JSON.parse(text.slice(start, i));
      } catch {
        fail('malformed string literal', start);
      }
      out.push({ t: 'string', value: value as string, at: start });
    } else if (WORD_CHAR.test(c)) {
      const start = i;
      while (i < text.length && WORD_CHAR.test(text[i]!)) i++;
      out.push({ t: 'word', text: text.slice(start, i), at: start });
    } else {
      fail(`unexpected character ${JSON.stringify(c)}`, i);
    }
  }
  return out;
}

/** Reads `[uri:]attr[.sub]`. A URI is everything up to the last colon (`urn:…:2.0:User`). */
function attrPath(text: string, at: number): AttrPath {
  const colon = text.lastIndexOf(':');
  const uri = colon >= 0 ? text.slice(0, colon) : null;
  const rest = colon >= 0 ? text.slice(colon + 1) : text;
  const parts = rest.split('.');
  if (uri === '' || parts.length > 2 || !parts.every((p) => NAME_RE.test(p)))
    fail(`${JSON.stringify(text.slice(0, 100))} is not an attribute path`, at);
  return { uri, attr: parts[0]!, sub: parts[1] ?? null };
}

class Parser {
  #i = 0;
  #terms = 0;
  constructor(private readonly tokens: Token[]) {}

  get done(): boolean {
    return this.#i >= this.tokens.length;
  }
  peek(): Token | undefined {
    return this.tokens[this.#i];
  }
  next(): Token | undefined {
    return this.tokens[this.#i++];
  }
  expect(t: '(' | ')' | '[' | ']'): void {
    const tok = this.next();
    if (tok?.t !== t) fail(`expected "${t}"`, tok?.at);
  }
  keyword(): string | null {
    const tok = this.peek();
    return tok?.t === 'word' ? tok.text.toLowerCase() : null;
  }

  /** filter := and ("or" and)* */
  filter(depth: number, inValue: boolean): Filter {
    if (depth > MAX_FILTER_DEPTH) fail(`filters nest at most ${MAX_FILTER_DEPTH} deep`);
    let left = this.and(depth, inValue);
    while (this.keyword() === 'or') {
      this.next();
      left = { kind: 'logical', op: 'or', left, right: this.and(depth, inValue) };
    }
    return left;
  }

  /** and := unary ("and" unary)* */
  and(depth: number, inValue: boolean): Filter {
    let left = this.unary(depth, inValue);
    while (this.keyword() === 'and') {
      this.next();
      left = { kind: 'logical', op: 'and', left, right: this.unary(depth, inValue) };
    }
    return left;
  }

  /** unary := "not" "(" filter ")" | "(" filter ")" | attrExp | valuePath */
  unary(depth: number, inValue: boolean): Filter {
    const tok = this.peek();
    if (!tok) fail('the filter ends too early');
    if (tok.t === '(') {
      this.next();
      const inner = this.filter(depth + 1, inValue);
      this.expect(')');
      return inner;
    }
    if (tok.t === 'word' && tok.text.toLowerCase() === 'not' && this.tokens[this.#i + 1]?.t === '(') {
      this.next();
      this.next();
      const inner = this.filter(depth + 1, inValue);
      this.expect(')');
      return { kind: 'not', filter: inner };
    }
    if (tok.t !== 'word') fail('expected an attribute', tok.at);
    this.next();
    if (++this.#terms > MAX_FILTER_TERMS) fail(`a filter holds at most ${MAX_FILTER_TERMS} comparisons`);
    const path = attrPath(tok.text, tok.at);
    if (this.peek()?.t === '[') {
      if (inValue) fail('value filters do not nest', tok.at);
      if (path.sub) fail('a value filter applies to an attribute, not a sub-attribute', tok.at);
      this.next();
      const inner = this.filter(depth + 1, true);
      this.expect(']');
      return { kind: 'valuePath', path, filter: inner };
    }
    const opTok = this.next();
    const op = opTok?.t === 'word' ? opTok.text.toLowerCase() : '';
    if (op === 'pr') return { kind: 'present', path };
    if (!COMPARE_OPS.has(op))
      fail('expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)', opTok?.at);
    return { kind: 'compare', op: op as CompareOp, path, value: this.literal() };
  }

  literal(): Literal {
    const tok = this.next();
    if (!tok) fail('expected a value');
    if (tok.t === 'string') return tok.value;
    if (tok.t === 'word') {
      const w = tok.text.toLowerCase();
      if (w === 'true') return true;
      if (w === 'false') return false;
      if (w === 'null') return null;
      if (NUMBER_RE.test(tok.text)) return Number(tok.text);
    }
    fail('expected a value: a quoted string, a number, true, false or null', tok.at);
  }
}

function guard<T>(text: string, code: 'invalid_filter' | 'invalid_path', what: string, read: () => T): T {
  if (text.length > MAX_FILTER_LENGTH)
    throw new ScimError(code, `The ${what} is longer than ${MAX_FILTER_LENGTH} characters.`);
  try {
    return read();
  } catch (err) {
    if (err instanceof SyntaxProblem) throw new ScimError(code, `The ${what} is not valid: ${err.message}.`);
    throw err;
  }
}

/** Parses a `filter` query parameter. Malformed text → 400 `invalidFilter`. */
export function parseFilter(text: string): Filter {
  return guard(text, 'invalid_filter', 'filter', () => {
    const p = new Parser(tokenize(text));
    if (p.done) fail('the filter is empty');
    const f = p.filter(0, false);
    if (!p.done) fail('unexpected text after the filter', p.peek()?.at);
    return f;
  });
}

/** Parses a PATCH `path`: `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`. Malformed → `invalidPath`. */
export function parsePath(text: string): PatchPath {
  return guard(text, 'invalid_path', 'path', () => {
    const tokens = tokenize(text);
    const first = tokens[0];
    if (first?.t !== 'word') fail('the path must start with an attribute');
    const path = attrPath(first.text, first.at);
    if (tokens.length === 1) return { path, filter: null, sub: null };
    if (tokens[1]!.t !== '[' || path.sub) fail('unexpected text in the path', tokens[1]!.at);
    // The filter ends at the last "]"; what may follow is ".sub".
    const last = tokens[tokens.length - 1]!;
    const tail = last.t === 'word' && last.text.startsWith('.') ? last : null;
    const close = tail ? tokens.length - 2 : tokens.length - 1;
    if (tokens[close]?.t !== ']') fail('the value filter is not closed');
    const p = new Parser(tokens.slice(2, close));
    if (p.done) fail('the value filter is empty');
    const filter = p.filter(1, true);
    if (!p.done) fail('unexpected text in the value filter', p.peek()?.at);
    let sub: string | null = null;
    if (tail) {
      sub = tail.text.slice(1);
      if (!NAME_RE.test(sub)) fail(`${JSON.stringify(tail.text)} is not a sub-attribute`, tail.at);
    }
    return { path, filter, sub };
  });
}
