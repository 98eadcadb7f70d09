import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import pino, { type ChildLoggerOptions, type DestinationStream, type Logger } from 'pino';
import type { LogFormat, LogLevel } from '../config/index.js';

/** Keys whose values never reach a log line, wherever they appear. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.new_password',
  '*.current_password',
  '*.token',
  '*.secret',
  '*.client_secret',
  '*.code',
];

/**
 * The server's logger. `json` writes pino's JSON lines (to `destination`, else stdout); `text`
 * turns each into one readable line first (see `textLine`). Redaction applies to both.
 */
export function createLogger(
  level: LogLevel,
  destination?: DestinationStream,
  format: LogFormat = 'json',
): Logger {
  const opts = {
    level,
    base: { service: 'latchkey' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      // Request logs carry method, path and query keys: never headers, bodies or query values.
      req: (req: { method: string; url: string; id: string }) => ({
        id: req.id,
        method: req.method,
        url: redactUrl(req.url),
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      err: pino.stdSerializers.err,
    },
  };
  const out = destination ?? (format === 'text' ? process.stdout : undefined);
  if (format === 'text') return pino(opts, { write: (line: string) => out!.write(textLine(line)) });
  return out ? pino(opts, out) : pino(opts);
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
/** Fields every line has, or that the text line shows in its own place. */
const OMITTED = new Set(['level', 'time', 'pid', 'hostname', 'service', 'msg', 'err']);

/**
 * One pino JSON line as a readable one: `12:03:04.567 INFO  message key=value …`, values that are
 * not plain words as JSON, an error's stack on the lines after it.
 */
export function textLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const level = (LEVEL_NAMES[entry.level as number] ?? String(entry.level)).padEnd(5);
  const fields = Object.entries(entry)
    .filter(([k, v]) => !OMITTED.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`);
  const err = entry.err as { message?: string; stack?: string } | undefined;
  const head = [time, level, String(entry.msg ?? ''), ...fields].filter(Boolean).join(' ');
  return `${head}${err ? `\n  ${(err.stack ?? err.message ?? '').replace(/\n/g, '\n  ')}` : ''}\n`;
}

/** The URL as logged: path kept, every query value replaced (magic links, codes and states live there). */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  const keys = [...new Set(params.keys())].map((k) => `${encodeURIComponent(k)}=…`);
  return `${url.slice(0, q)}?${keys.join('&')}`;
}

type LevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type Bindings = Record<string, unknown>;

/**
 * A request's logger, made only when the request logs a line at an enabled level: most requests
 * log nothing below the configured level, and a pino child (its bindings serialised and redacted)
 * costs more than the rest of a cached-credential request. The lines it writes are those of
 * `parent.child(bindings)`: the same fields, the same redaction.
 */
export class RequestLogger {
  readonly #parent: Logger;
  #bindings: Bindings;
  #real: Logger | null = null;

  constructor(parent: Logger, bindings: Bindings) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  #logger(): Logger {
    this.#real ??= this.#parent.child(this.#bindings);
    return this.#real;
  }

  #write(level: LevelName, args: unknown[]): void {
    const target = this.#real ?? this.#parent;
    if (!target.isLevelEnabled(level)) return;
    (this.#logger()[level] as (...a: unknown[]) => void)(...args);
  }

  get level(): string {
    return (this.#real ?? this.#parent).level;
  }

  set level(level: string) {
    this.#logger().level = level;
  }

  /** Adds fields to every later line of the request. */
  bind(bindings: Bindings): void {
    if (this.#real) this.#real = this.#real.child(bindings);
    // Object.assign: on Node 20 a spread followed by more properties takes V8's slow path.
    else this.#bindings = Object.assign({}, this.#bindings, bindings);
  }

  fatal(...args: unknown[]): void {
    this.#write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#write('error', args);
  }
  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }
  info(...args: unknown[]): void {
    this.#write('info', args);
  }
  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#write('trace', args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.#logger().child(bindings, options);
  }
}

/**
 * Fastify's `childLoggerFactory`: a `RequestLogger` for each request. Routes that set their own
 * log level or serializers get pino's child at once.
 */
export function requestLoggerFactory(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  opts: ChildLoggerOptions,
): FastifyBaseLogger {
  const pinoLogger = logger as unknown as Logger;
  if (
    opts.level !== undefined ||
    opts.serializers !== undefined ||
    typeof pinoLogger.isLevelEnabled !== 'function'
  )
    return logger.child(bindings, opts);
  return new RequestLogger(pinoLogger, bindings) as unknown as FastifyBaseLogger;
}

/**
 * After authentication: every later log line of the request, "request completed" among them,
 * names the credential's kind and, for a token, its display prefix (never the secret), so an
 * operator can trace one key's traffic.
 */
export function logCredential(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const p = req.principal;
  if (p) {
    const credential = { credential: { kind: p.kind, ...(p.prefix ? { prefix: p.prefix } : {}) } };
    if (req.log instanceof RequestLogger) {
      // reply.log is the same object.
      req.log.bind(credential);
    } else {
      const log = req.log.child(credential);
      req.log = log;
      reply.log = log;
    }
  }
  done();
}
