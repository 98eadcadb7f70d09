import { startMcpServer } from './server.js';

/** Reads and checks the environment once; a bad value stops the start with a message naming it. */
function config(env: NodeJS.ProcessEnv) {
  const fail = (name: string, why: string): never => {
    console.error(`${name} ${why}`);
    process.exit(1);
  };
  const url = (name: string, fallback?: string) => {
    const v = env[name] || fallback;
    if (!v) return fail(name, 'is required.');
    try {
      const u = new URL(v);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    } catch {
      return fail(name, 'must be an http(s) URL.');
    }
    return v.replace(/\/+$/, '');
  };
  const port = Number(env.PORT || '3001');
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('PORT', 'must be a port number.');
  const id = env.MCP_RESOURCE_ID || fail('MCP_RESOURCE_ID', 'is required (the [[resources]] id).');
  const secret =
    env.MCP_RESOURCE_SECRET || fail('MCP_RESOURCE_SECRET', 'is required (the [[resources]] secret).');
  return {
    port,
    host: env.HOST || '127.0.0.1',
    issuer: url('LATCHKEY_URL', 'http://localhost:8484'),
    // Exactly as in latchkey.toml: it is the audience every token must name.
    resource: url('MCP_RESOURCE_URL', `http://127.0.0.1:${port}/mcp`),
    credentials: { id, secret },
  };
}

const c = config(process.env);
const server = await startMcpServer(c);
console.log(`MCP server at ${server.url} (resource ${c.resource}, Latchkey ${c.issuer})`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
