// Any runtime with the standard Request and Response (Deno, Bun, Cloudflare Workers, Node):
// `handle` is the whole app; Node serves it here through @hono/node-server.
import { serve } from '@hono/node-server';
import { createVerifier, metadataUrl, protectedResourceMetadata, protectRequest } from '@latchkey/sdk';

const issuer = process.env.LATCHKEY_URL ?? 'http://localhost:8484';
// This API's [[resources]] entry in latchkey.toml: its url, id and secret.
const resource = process.env.RESOURCE_URL ?? 'http://localhost:3000/api';
const verifier = createVerifier({
  issuer,
  resource,
  credentials: { id: process.env.RESOURCE_ID ?? 'my-api', secret: process.env.RESOURCE_SECRET ?? '' },
});
const resourceMetadataUrl = metadataUrl(resource);
const protect = protectRequest(verifier, { resourceMetadataUrl });

export async function handle(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === new URL(resourceMetadataUrl).pathname)
    return Response.json(protectedResourceMetadata({ resource, issuer, scopes: ['mcp:read'] }));
  if (path !== '/api/notes') return Response.json({ error: 'not_found' }, { status: 404 });
  const who = await protect(request, ['mcp:read']);
  if (who instanceof Response) return who; // 401, 403, 429 or 503, ready to send
  return Response.json({ sub: who.sub, org_id: who.org_id, scopes: who.scopes });
}

serve({ fetch: handle, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}`);
});
