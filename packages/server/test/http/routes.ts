import type { App } from '../../src/http/types.js';

/** A route of the app as the tests see it, joined with what the OpenAPI document says about it. */
export interface RouteInfo {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify pattern: `/api/v1/org/members/:user_id`. */
  path: string;
  params: string[];
  /** JSON Schema of the body, when the route declares one. */
  body: JsonSchema | null;
  query: { name: string; schema: JsonSchema }[];
  /** Left out of the OpenAPI document (`schema.hide`). */
  hidden: boolean;
  /** An anonymous request gets 401 before anything else is looked at. */
  needsCredential: boolean;
}

export type JsonSchema = Record<string, unknown> & {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
};

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Every route Fastify knows, from `printRoutes` (which, unlike the OpenAPI document, includes
 * hidden routes). The tree prints one node per line, four columns per level, each node's text
 * appended to its parent's path.
 */
export function allRoutes(app: App): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:[│ ] {3})*)(?:├── |└── )(.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const parent = depth === 0 ? '' : stack[depth - 1]!;
    const full = depth === 0 ? m[2]! : parent === '/' ? `/${m[2]}` : parent + m[2];
    stack[depth] = full;
    stack.length = depth + 1;
    for (const method of (m[3] ?? '').split(', ').filter((x) => METHODS.has(x)))
      out.push({ method, path: full });
  }
  return out;
}

interface OpenApiOperation {
  parameters?: { in: string; name: string; schema: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema: JsonSchema }> };
}

/** The /api/auth and /api/v1 routes with their schemas, and whether each needs a credential. */
export async function apiRoutes(app: App): Promise<RouteInfo[]> {
  const doc = (await app.inject({ url: '/api/openapi.json' })).json() as {
    paths: Record<string, Record<string, OpenApiOperation>>;
  };
  const routes: RouteInfo[] = [];
  for (const r of allRoutes(app)) {
    if (!r.path.startsWith('/api/auth/') && !r.path.startsWith('/api/v1/')) continue;
    const op = doc.paths[r.path.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()];
    const params = [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    routes.push({
      method: r.method as RouteInfo['method'],
      path: r.path,
      params,
      body: op?.requestBody?.content?.['application/json']?.schema ?? null,
      query: (op?.parameters ?? [])
        .filter((p) => p.in === 'query')
        .map((p) => ({ name: p.name, schema: p.schema })),
      hidden: op === undefined,
      needsCredential: await probeNeedsCredential(app, r.method, fillParams(r.path, params)),
    });
  }
  return routes;
}

/** Anonymous, with a body that cannot parse: 401 here means the credential is checked first. */
async function probeNeedsCredential(app: App, method: string, url: string): Promise<boolean> {
  const res = await app.inject({
    method: method as 'GET',
    url,
    ...(method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, payload: '{' }),
  });
  return res.statusCode === 401;
}

/** The route's path with every parameter set to a fresh, well-formed id that names no row. */
export function fillParams(path: string, params: string[], values: Record<string, string> = {}): string {
  let url = path;
  for (const p of params) url = url.replace(`:${p}`, values[p] ?? crypto.randomUUID());
  return url;
}
