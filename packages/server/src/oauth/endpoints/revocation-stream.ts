import { Gauge, type Registry } from 'prom-client';
import type { Deps } from '../../deps.js';
import { ApiError } from '../../errors.js';
import type { App } from '../../http/types.js';
import { safeEqual } from '../../lib/secrets.js';
import type { Catalogue } from '../../tokens/catalogue.js';
import { lastRevocationId, revocationsAfter } from '../store/revocation-log.js';
import { eventStream } from '../../http/schemas/responses.js';

/** How often a stream looks for new events when no node has announced one; heartbeats keep proxies open. */
export const STREAM_POLL_MS = 1_000;
export const STREAM_HEARTBEAT_MS = 15_000;
/** Events sent per read: a reconnecting reader catches up in pages. */
export const STREAM_PAGE = 500;

function resourceFromBasic(catalogue: Catalogue, header: string | undefined) {
  const m = header ? /^Basic +([A-Za-z0-9+/=]{1,1000}) *$/i.exec(header) : null;
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  let id: string;
  let secret: string;
  try {
    id = decodeURIComponent(decoded.slice(0, colon));
    secret = decodeURIComponent(decoded.slice(colon + 1));
  } catch {
    return null;
  }
  const r = catalogue.resources.find((x) => x.secret !== null && x.id === id);
  return r && safeEqual(secret, r.secret!) ? r : null;
}

/**
 * `GET /api/v1/revocations/stream`: server-sent events for resource servers (HTTP Basic with a
 * configured resource's id:secret). Each event is `{kind: "token" | "user" | "org", value}` —
 * a revoked token's SHA-256, or a person or org whose credentials changed — with the log's id, so
 * a reader resumes with `Last-Event-ID`. New events are announced on the cache's pub/sub channel
 * and also polled, so a missed announcement costs at most a second.
 */
export function revocationStreamRoutes(
  app: App,
  deps: Deps & { catalogue: Catalogue },
  metrics: Registry,
): void {
  // Open streams never go idle: end them when the server starts to close, so shutdown drains.
  const open = new Set<() => void>();
  new Gauge({
    name: 'latchkey_revocation_streams_open',
    help: 'Revocation streams open to resource servers on this node.',
    registers: [metrics],
    collect() {
      this.set(open.size);
    },
  });
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });
  app.get(
    '/api/v1/revocations/stream',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['revocations'],
        summary: 'Server-sent events of revoked credentials, for resource servers (HTTP Basic id:secret)',
        security: [{ resourceServerBasic: [] }],
        response: { 200: eventStream('One event per revoked credential; resumable with Last-Event-ID.') },
      },
    },
    async (req, reply) => {
      const resource = resourceFromBasic(deps.catalogue, req.headers.authorization);
      if (!resource) {
        throw new ApiError('unauthorized', "Send a resource server's id:secret with HTTP Basic.", {
          headers: { 'www-authenticate': 'Basic realm="latchkey"' },
        });
      }
      // The reader may have left already, or leave during any await below: listen for it before the
      // first one and look again after each, so no poll or heartbeat outlives its connection.
      let closed = false;
      let poll: ReturnType<typeof setInterval> | undefined;
      let heartbeat: ReturnType<typeof setInterval> | undefined;
      let unsubscribe: (() => Promise<void>) | undefined;
      const stop = () => {
        if (closed) return;
        closed = true;
        clearInterval(poll);
        clearInterval(heartbeat);
        open.delete(end);
        void unsubscribe?.();
      };
      const end = () => {
        stop();
        reply.raw.end();
      };
      open.add(end);
      req.raw.on('close', stop);
      reply.raw.on('close', stop);
      const gone = () => {
        if (req.raw.socket?.destroyed !== false) stop();
        return closed;
      };

      const lastHeader = req.headers['last-event-id'];
      let last = typeof lastHeader === 'string' && /^\d{1,18}$/.test(lastHeader) ? lastHeader : null;
      if (last === null) {
        // A new reader starts from now: what was revoked before is already refused by introspection.
        last = await lastRevocationId(deps.db);
      }
      reply.hijack();
      if (gone()) return;
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(': latchkey revocations\nretry: 2000\n\n');
      let reading = false;
      let again = false;
      const read = async () => {
        if (closed) return;
        if (reading) {
          again = true;
          return;
        }
        reading = true;
        try {
          do {
            again = false;
            const rows = await revocationsAfter(deps.db, last!, STREAM_PAGE);
            for (const r of rows) {
              res.write(
                `id: ${r.id}\nevent: revoked\ndata: ${JSON.stringify({ kind: r.kind, value: r.value })}\n\n`,
              );
              last = String(r.id);
            }
            if (rows.length === STREAM_PAGE) again = true;
          } while (again && !closed);
        } catch (err) {
          req.log.warn({ err: (err as Error).message }, 'revocation stream read failed');
        } finally {
          reading = false;
        }
      };
      const off = await deps.cache.subscribe('auth:changes', () => void read());
      if (gone()) return void off();
      unsubscribe = off;
      poll = setInterval(() => void read(), STREAM_POLL_MS);
      heartbeat = setInterval(() => res.write(': keep-alive\n\n'), STREAM_HEARTBEAT_MS);
      await read();
    },
  );
}
