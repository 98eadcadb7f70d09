import type { Registry } from 'prom-client';
import { Type } from 'typebox';
import type { Deps } from '../deps.js';
import type { App } from './types.js';

const READY_TIMEOUT_MS = 2000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref()),
  ]);
}

/** Health, readiness, metrics and the OpenAPI document. */
export function opsRoutes(app: App, deps: Deps, metrics: Registry): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    {
      schema: {
        hide: true,
        response: {
          '2xx': Type.Object({ status: Type.String(), database: Type.String(), cache: Type.String() }),
          '5xx': Type.Object({ status: Type.String(), database: Type.String(), cache: Type.String() }),
        },
      },
    },
    async (req, reply) => {
      const check = async (fn: () => Promise<void>, what: string) => {
        try {
          await withTimeout(fn(), READY_TIMEOUT_MS);
          return 'ok';
        } catch (err) {
          req.log.warn({ err: (err as Error).message }, `${what} is not reachable`);
          return 'unreachable';
        }
      };
      const [database, cache] = await Promise.all([
        check(() => deps.storage.ping(), 'database'),
        check(() => deps.cache.ping(), 'cache'),
      ]);
      const ok = database === 'ok' && cache === 'ok';
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable', database, cache });
    },
  );

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const body = await metrics.metrics();
    return reply.type(metrics.contentType).send(body);
  });

  const documentSchema = {
    operationId: 'openapiDocument',
    summary: 'This OpenAPI 3.1 document',
    response: { 200: Type.Object({}, { additionalProperties: true, description: 'OpenAPI 3.1' }) },
  };
  app.get('/api/openapi.json', { schema: documentSchema }, async () => app.swagger());
}
