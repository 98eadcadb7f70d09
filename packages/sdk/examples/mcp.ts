import express, { type Request } from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  createVerifier,
  expressMiddleware,
  metadataUrl,
  type Principal,
  protectedResourceMetadata,
} from '@latchkey/sdk';

const issuer = process.env.LATCHKEY_URL ?? 'http://localhost:8484';
// This MCP server's [[resources]] entry in latchkey.toml: its url (ending in /mcp), id and secret.
const resource = process.env.RESOURCE_URL ?? 'http://localhost:3000/mcp';
const verifier = createVerifier({
  issuer,
  resource,
  credentials: { id: process.env.RESOURCE_ID ?? 'my-mcp', secret: process.env.RESOURCE_SECRET ?? '' },
});
const resourceMetadataUrl = metadataUrl(resource);

const app = express();
app.use(express.json());
// MCP clients read this after a 401 to find Latchkey, then sign the person in (OAuth 2.1 + PKCE).
app.get(new URL(resourceMetadataUrl).pathname, (_req, res) => {
  res.json(protectedResourceMetadata({ resource, issuer, scopes: ['mcp:read'] }));
});
// Stateless Streamable HTTP: every request is authorised on its own token and scopes.
app.post(
  '/mcp',
  expressMiddleware(verifier, { resourceMetadataUrl, scopes: ['mcp:read'] }),
  async (req, res) => {
    const who = (req as Request & { latchkey: Principal }).latchkey;
    const mcp = new McpServer({ name: 'notes', version: '1.0.0' });
    mcp.registerTool('whoami', { description: 'Who is calling, and in which org' }, async () => ({
      content: [
        { type: 'text', text: JSON.stringify({ sub: who.sub, org_id: who.org_id, scopes: who.scopes }) },
      ],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void transport.close().then(() => mcp.close()));
    await mcp.connect(transport);
    await transport.handleRequest(req, res, req.body);
  },
);

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as { port: number }).port}`);
});
