import type { FastifyReply, FastifyRequest } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';
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

/**
 * After authentication: every later log line of the request, "request completed" among them,
 * names the credential's kind and, for a token, its display prefix (never the secret), so an
 * operator can trace one key's traffic.
 */
export async function logCredential(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const p = req.principal;
  if (!p) return;
  const log = req.log.child({ credential: { kind: p.kind, ...(p.prefix ? { prefix: p.prefix } : {}) } });
  req.log = log;
  reply.log = log;
}
