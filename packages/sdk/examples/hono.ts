import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import {
  createVerifier,
  honoMiddleware,
  type LatchkeyEnv,
  metadataUrl,
  protectedResourceMetadata,
} from '@latchkey/sdk';

const issuer = process.env.LATCHKEY_URL ?? 'http://localhost:8484';
// This API's [[resources]] entry in latchkey.toml: its url, id and secret.
const resource = process.env.RESOURCE_URL ?? 'http://localhost:3000/api';
const verifier = createVerifier({
  issuer,
  resource,
  credentials: { id: process.env.RESOURCE_ID ?? 'my-api', secret: process.env.RESOURCE_SECRET ?? '' },
});
const resourceMetadataUrl = metadataUrl(resource);

const app = new Hono<LatchkeyEnv>();
app.get(new URL(resourceMetadataUrl).pathname, (c) =>
  c.json(protectedResourceMetadata({ resource, issuer, scopes: ['mcp:read'] })),
);
app.get('/api/notes', honoMiddleware(verifier, { resourceMetadataUrl, scopes: ['mcp:read'] }), (c) => {
  const who = c.get('latchkey');
  return c.json({ sub: who.sub, org_id: who.org_id, scopes: who.scopes });
});

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}`);
});
