import { assertProtectOptions } from './express.js';
import { check, orgOfRequest, type ProtectOptions } from './http.js';
import type { Principal } from './principal.js';
import type { Verifier } from './verifier.js';

/** The Hono `Env` that declares `c.get('latchkey')`: `new Hono<LatchkeyEnv>()`. */
export type LatchkeyEnv = { Variables: { latchkey: Principal } };

/** Minimal shape of a Hono context, so the SDK does not depend on Hono. */
interface HonoLikeContext {
  req: { header(name: string): string | undefined };
  set(key: 'latchkey', value: Principal): void;
}

/**
 * Hono middleware: sets `c.set('latchkey', principal)` and runs the next handler, or returns the
 * refusal as a JSON Response with its status, its headers and `Cache-Control: no-store`.
 *
 * Scopes per route: create one middleware per scope set —
 * `app.get('/read', honoMiddleware(verifier, { resourceMetadataUrl, scopes: ['mcp:read'] }), handler)`.
 * The org the request acts in comes from the `x-org-id` header, or from `options.org(c)`.
 * Options are checked here, once. Errors propagate to Hono's `onError`.
 */
export function honoMiddleware(verifier: Verifier, options: ProtectOptions<HonoLikeContext>) {
  assertProtectOptions('honoMiddleware', verifier, options);

  return async function latchkey(
    c: HonoLikeContext,
    next: () => Promise<void>,
  ): Promise<Response | undefined> {
    const org = orgOfRequest(c, options.org, (name) => c.req.header(name));
    const r = await check(verifier, c.req.header('authorization'), options, org);
    if ('principal' in r) {
      c.set('latchkey', r.principal);
      await next();
      return undefined;
    }
    const { status, headers, body } = r.refusal;
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    });
  };
}
