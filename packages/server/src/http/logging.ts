import type { FastifyReply, FastifyRequest } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/index.js';

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

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
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
  return destination ? pino(opts, destination) : pino(opts);
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
