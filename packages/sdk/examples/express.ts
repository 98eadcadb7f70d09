import express, { type Request } from 'express';
import {
  createVerifier,
  expressMiddleware,
  metadataUrl,
  type Principal,
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

const app = express();
// Where OAuth clients learn which Latchkey to ask for a token (RFC 9728).
app.get(new URL(resourceMetadataUrl).pathname, (_req, res) => {
  res.json(protectedResourceMetadata({ resource, issuer, scopes: ['mcp:read'] }));
});
app.get(
  '/api/notes',
  expressMiddleware(verifier, { resourceMetadataUrl, scopes: ['mcp:read'] }),
  (req, res) => {
    const who = (req as Request & { latchkey: Principal }).latchkey;
    res.json({ sub: who.sub, org_id: who.org_id, scopes: who.scopes });
  },
);

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
});
