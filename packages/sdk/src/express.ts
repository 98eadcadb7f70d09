import { assertOrgOption, check, checkCached, orgOfRequest, type ProtectOptions } from './http.js';
import type { Principal } from './principal.js';
import type { Verifier } from './verifier.js';

/** Minimal shapes of an Express (or Connect) request and response, so the SDK does not depend on Express. */
interface ExpressLikeRequest {
  headers: { authorization?: string | string[] | undefined; [name: string]: string | string[] | undefined };
  latchkey?: Principal;
}
interface ExpressLikeResponse {
  headersSent: boolean;
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
}
type ExpressLikeNext = (err?: unknown) => void;

/**
 * Checks what every adapter is given, so a typo fails at start-up, not on the first request.
 * Unknown option fields are passed through to `check` untouched.
 */
export function assertProtectOptions<Req>(adapter: string, verifier: Verifier, o: ProtectOptions<Req>): void {
  if (!verifier || typeof verifier.verify !== 'function')
    throw new TypeError(`${adapter}: verifier must come from createVerifier().`);
  if (!o || typeof o.resourceMetadataUrl !== 'string' || /[\x00-\x20\x7f"\\]/.test(o.resourceMetadataUrl))
    throw new TypeError(`${adapter}: resourceMetadataUrl must be an absolute URL (see metadataUrl()).`);
  try {
    new URL(o.resourceMetadataUrl);
  } catch {
    throw new TypeError(`${adapter}: resourceMetadataUrl must be an absolute URL (see metadataUrl()).`);
  }
  for (const key of ['scopes', 'challengeScopes'] as const) {
    const list = o[key];
    if (
      list !== undefined &&
      (!Array.isArray(list) ||
        list.some((s) => typeof s !== 'string' || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s)))
    )
      throw new TypeError(`${adapter}: ${key} must be a list of scope names.`);
  }
  assertOrgOption(adapter, o.org);
}

/**
 * Express (4 or 5) middleware: sets `req.latchkey` to the principal and calls `next()`, or answers
 * the refusal — its status, its headers (`WWW-Authenticate` and the rest) with
 * `Cache-Control: no-store`, and its JSON body — without calling `next()`.
 *
 * Scopes per route: create one middleware per scope set and put it on the route —
 * `app.get('/read', expressMiddleware(verifier, { resourceMetadataUrl, scopes: ['mcp:read'] }), handler)`.
 * The org the request acts in comes from the `x-org-id` header, or from `options.org(req)`.
 * Options are checked here, once; an error while answering goes to `next(err)`, never thrown.
 * `req.latchkey` is not on Express's `Request` type: read it as `(req as Request & { latchkey: Principal })`.
 */
export function expressMiddleware(verifier: Verifier, options: ProtectOptions<ExpressLikeRequest>) {
  assertProtectOptions('expressMiddleware', verifier, options);

  return function latchkey(req: ExpressLikeRequest, res: ExpressLikeResponse, next: ExpressLikeNext): void {
    const h = req.headers.authorization;
    let org: string | null;
    try {
      org = orgOfRequest(req, options.org, (name) => req.headers[name]);
    } catch (err) {
      next(err);
      return;
    }
    const known = checkCached(verifier, Array.isArray(h) ? h[0] : h, options, org);
    if (known) {
      req.latchkey = known;
      next();
      return;
    }
    check(verifier, Array.isArray(h) ? h[0] : h, options, org).then(
      (r) => {
        if ('principal' in r) {
          req.latchkey = r.principal;
          next();
          return;
        }
        try {
          if (res.headersSent) throw new Error('latchkey: the response was already started.');
          const { status, headers, body } = r.refusal;
          res.statusCode = status;
          res.setHeader('content-type', 'application/json; charset=utf-8');
          res.setHeader('cache-control', 'no-store');
          for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
          res.end(JSON.stringify(body));
        } catch (err) {
          next(err);
        }
      },
      (err: unknown) => next(err),
    );
  };
}
