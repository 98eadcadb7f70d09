import Fastify from 'fastify';
import {
  createVerifier,
  fastifyHook,
  metadataUrl,
  type Principal,
  protectedResourceMetadata,
} from '@latchkey/sdk';

// `request.latchkey` on Fastify's request type.
declare module 'fastify' {
  interface FastifyRequest {
    latchkey?: Principal;
  }
}

const issuer = process.env.LATCHKEY_URL ?? 'http://localhost:8484';
// This API's [[resources]] entry in latchkey.toml: its url, id and secret.
const resource = process.env.RESOURCE_URL ?? 'http://localhost:3000/api';
const verifier = createVerifier({
  issuer,
  resource,
  credentials: { id: process.env.RESOURCE_ID ?? 'my-api', secret: process.env.RESOURCE_SECRET ?? '' },
});
const resourceMetadataUrl = metadataUrl(resource);

const app = Fastify();
app.get(new URL(resourceMetadataUrl).pathname, async () =>
  protectedResourceMetadata({ resource, issuer, scopes: ['mcp:read'] }),
);
app.get(
  '/api/notes',
  { preHandler: fastifyHook(verifier, { resourceMetadataUrl, scopes: ['mcp:read'] }) },
  async (request) => {
    const who = request.latchkey!;
    return { sub: who.sub, org_id: who.org_id, scopes: who.scopes };
  },
);

const url = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
console.log(`listening on ${url}`);
