// The benchmark peer: node-oidc-provider configured like Latchkey's OAuth server — opaque access
// tokens bound to one resource (RFC 8707), PKCE S256 required, rotating refresh tokens,
// introspection for the resource server, and with CC_SECRET a confidential client `bench-cc` that
// may use client_credentials (client_secret_basic) — with in-memory storage (an unbounded Map), or
// with PostgreSQL when PEER_DATABASE_URL is set (the production comparison). Runs in its own
// process. `/__codes?n=` mints authorization codes through its own models (the consent step is
// not what is measured), answering [{code, verifier}].
// Usage: node oidc-provider.mjs <port>; env RESOURCE, RS_SECRET, optionally CC_SECRET.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const RESOURCE = process.env.RESOURCE;
const SCOPE = 'mcp:read mcp:run';
export const REDIRECT = 'https://client.example.com/callback';

/**
 * Unbounded in-memory storage: the provider's own dev adapter is an LRU of 1000 entries, which
 * would drop codes during the run. Same shape as its MemoryAdapter, without the bound.
 */
const store = new Map();
const grantIndex = new Map();
class MapAdapter {
  constructor(model) {
    this.model = model;
  }
  key(id) {
    return `${this.model}:${id}`;
  }
  async upsert(id, payload) {
    store.set(this.key(id), payload);
    if (payload.grantId) {
      const k = `grant:${payload.grantId}`;
      if (!grantIndex.has(k)) grantIndex.set(k, []);
      grantIndex.get(k).push(this.key(id));
    }
    if (payload.userCode) store.set(`userCode:${payload.userCode}`, id);
    if (payload.uid) store.set(`uid:${payload.uid}`, id);
  }
  async find(id) {
    return store.get(this.key(id));
  }
  async findByUserCode(userCode) {
    return this.find(store.get(`userCode:${userCode}`));
  }
  async findByUid(uid) {
    return this.find(store.get(`uid:${uid}`));
  }
  async consume(id) {
    const p = store.get(this.key(id));
    if (p) p.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id) {
    store.delete(this.key(id));
  }
  async revokeByGrantId(grantId) {
    for (const k of grantIndex.get(`grant:${grantId}`) ?? []) store.delete(k);
    grantIndex.delete(`grant:${grantId}`);
  }
}

/**
 * Durable storage for the production comparison (PEER_DATABASE_URL): one PostgreSQL table keyed by
 * (model, id) with the payload as jsonb, the shape of the provider's own example adapters.
 */
let pgPool = null;
class PgAdapter {
  constructor(model) {
    this.model = model;
  }
  async upsert(id, payload, expiresIn) {
    await pgPool.query(
      `insert into oidc_models (model, id, payload, grant_id, user_code, uid, expires_at)
       values ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
       on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id,
         user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`,
      [
        this.model,
        id,
        payload,
        payload.grantId ?? null,
        payload.userCode ?? null,
        payload.uid ?? null,
        expiresIn ?? 3600,
      ],
    );
  }
  async find(id) {
    const { rows } = await pgPool.query(
      'select payload, consumed_at from oidc_models where model = $1 and id = $2',
      [this.model, id],
    );
    if (!rows[0]) return undefined;
    const p = rows[0].payload;
    return rows[0].consumed_at ? { ...p, consumed: Math.floor(rows[0].consumed_at.getTime() / 1000) } : p;
  }
  async findByUserCode(userCode) {
    const { rows } = await pgPool.query('select id from oidc_models where model = $1 and user_code = $2', [
      this.model,
      userCode,
    ]);
    return rows[0] ? this.find(rows[0].id) : undefined;
  }
  async findByUid(uid) {
    const { rows } = await pgPool.query('select id from oidc_models where model = $1 and uid = $2', [
      this.model,
      uid,
    ]);
    return rows[0] ? this.find(rows[0].id) : undefined;
  }
  async consume(id) {
    await pgPool.query('update oidc_models set consumed_at = now() where model = $1 and id = $2', [
      this.model,
      id,
    ]);
  }
  async destroy(id) {
    await pgPool.query('delete from oidc_models where model = $1 and id = $2', [this.model, id]);
  }
  async revokeByGrantId(grantId) {
    await pgPool.query('delete from oidc_models where grant_id = $1', [grantId]);
  }
}

let adapter = MapAdapter;
if (process.env.PEER_DATABASE_URL) {
  const { default: pg } = await import('pg');
  pgPool = new pg.Pool({ connectionString: process.env.PEER_DATABASE_URL, max: 10 });
  await pgPool.query(`create table if not exists oidc_models (
    model text not null, id text not null, payload jsonb not null, grant_id text, user_code text, uid text,
    expires_at timestamptz, consumed_at timestamptz, primary key (model, id))`);
  await pgPool.query('create index if not exists oidc_models_grant_id on oidc_models (grant_id)');
  adapter = PgAdapter;
}

const provider = new Provider(issuer, {
  adapter,
  clients: [
    {
      client_id: 'bench',
      token_endpoint_auth_method: 'none',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
    {
      client_id: 'rs',
      client_secret: process.env.RS_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [],
      grant_types: [],
      response_types: [],
    },
    // Like a Latchkey org app allowed client_credentials: confidential, the resource's scopes.
    ...(process.env.CC_SECRET
      ? [
          {
            client_id: 'bench-cc',
            client_secret: process.env.CC_SECRET,
            token_endpoint_auth_method: 'client_secret_basic',
            redirect_uris: [],
            grant_types: ['client_credentials'],
            response_types: [],
            scope: SCOPE,
          },
        ]
      : []),
  ],
  scopes: ['mcp:read', 'mcp:run'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: SCOPE,
        audience: RESOURCE,
        accessTokenTTL: 3600,
        accessTokenFormat: 'opaque',
      }),
    },
  },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  issueRefreshToken: async () => true,
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  ttl: { AuthorizationCode: 600, AccessToken: 3600, RefreshToken: 90 * 86400, Grant: 90 * 86400 },
});

async function mintCodes(n) {
  const client = await provider.Client.find('bench');
  const out = [];
  for (let i = 0; i < n; i++) {
    const verifier = randomBytes(32).toString('base64url');
    const grant = new provider.Grant({ accountId: 'bench-user', clientId: 'bench' });
    grant.addResourceScope(RESOURCE, SCOPE);
    const grantId = await grant.save();
    const code = await new provider.AuthorizationCode({
      accountId: 'bench-user',
      grantId,
      client,
      scope: SCOPE,
      resource: RESOURCE,
      redirectUri: REDIRECT,
      codeChallenge: createHash('sha256').update(verifier).digest('base64url'),
      codeChallengeMethod: 'S256',
    }).save();
    out.push({ code, verifier });
  }
  return out;
}

const app = provider.callback();
createServer((req, res) => {
  if (req.url.startsWith('/__codes')) {
    const n = Number(new URL(req.url, issuer).searchParams.get('n') ?? 1);
    mintCodes(n).then(
      (codes) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(codes)),
      (err) => res.writeHead(500).end(String(err)),
    );
    return;
  }
  app(req, res);
}).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
