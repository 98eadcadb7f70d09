import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { LightMyRequestResponse } from 'fastify';
import { type Client, PUBLIC_URL, type TestServer, testServer } from '../helpers/harness.js';
import { tokensFor } from '../oauth/helpers.js';
import { mintPat } from '../tokens/helpers.js';
import {
  type DocumentedOperation,
  documentedResponse,
  type OpenApiDocument,
  operations,
} from './openapi-doc.js';
import { sampleOf } from './openapi-samples.js';

/**
 * The contract: every documented operation is called once, with the credential its security
 * requirement names (a real session, API token, SCIM token, OAuth client or the ADMIN_TOKEN) and
 * a body built from its request schema, and its answer must be a documented status whose body
 * matches the documented schema for the answer's media type. An answer the document does not
 * describe — an undocumented status, a field of the wrong type, a problem sent as plain JSON — fails.
 */
const ADMIN_TOKEN = 'contract-break-glass-0123456789-abcdefghij';
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** Calls that end the caller's session or org: made last, so every other call still has them. */
const LAST = [
  'DELETE /api/v1/org/scim/token',
  'DELETE /api/v1/org/membership',
  'DELETE /api/v1/org',
  'DELETE /api/v1/me',
  'POST /api/auth/signout',
];

const NOT_HARVESTED = ['/api/v1/admin/users', '/api/auth/sessions'];

/**
 * The order of the calls: reads of lists (their first items give the item calls real ids), reads
 * of items, the protocol endpoints (OAuth, SCIM: before a management call rotates the secrets
 * they use), the other writes, deletions, and last the calls that end the caller's session.
 */
function rank(o: DocumentedOperation): number {
  const key = `${o.method.toUpperCase()} ${o.pattern}`;
  if (LAST.includes(key)) return 10 + LAST.indexOf(key);
  if (o.method === 'get') return Number(o.path.includes('{'));
  if (o.path.startsWith('/api/oauth/') || o.path.startsWith('/api/v1/scim/')) return 2;
  return o.method === 'delete' ? 4 : 3;
}

let t: TestServer;
let doc: OpenApiDocument;
let owner: Client;
let orgId: string;
const credentials: Record<string, Record<string, string>> = {};

before(async () => {
  t = await testServer({ env: { ADMIN_TOKEN, API_RATE_LIMIT: '100000' } });
  doc = (await t.app.inject({ url: '/api/openapi.json' })).json() as OpenApiDocument;
  owner = t.client();
  const { user, org } = await owner.signup({ name: 'Contract Owner' });
  orgId = org.id;
  await t.deps.db.updateTable('users').set({ instance_admin: true }).where('id', '=', user.id).execute();
  const pat = await mintPat(owner, { name: 'contract' }, orgId);
  const scim = await owner.post('/api/v1/org/scim/token', {}, orgId);
  assert.equal(scim.statusCode, 201, scim.body);
  const app = await owner.post(
    '/api/v1/oauth/clients',
    { name: 'Contract client', type: 'confidential', grant_types: ['client_credentials'] },
    orgId,
  );
  assert.equal(app.statusCode, 201, app.body);
  const { client_id, client_secret } = app.json() as { client_id: string; client_secret: string };
  // UserInfo's bearer is an OAuth access token holding `openid`, from a real authorization code flow.
  const { tokens } = await tokensFor(t, owner, { resource: `${PUBLIC_URL}/api`, scope: 'openid org:read' });
  credentials.openidToken = { authorization: `Bearer ${tokens.access_token}` };
  credentials.session = {};
  credentials.bearer = { authorization: `Bearer ${pat.token}` };
  credentials.adminToken = { authorization: `Bearer ${ADMIN_TOKEN}` };
  credentials.scimToken = { authorization: `Bearer ${(scim.json() as { token: string }).token}` };
  credentials.clientSecretBasic = {
    authorization: `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}`,
  };
});
after(() => t.close());

/** The first item each list answered, by the list's path: real ids for the item operations. */
const firstItems = new Map<string, Record<string, unknown>>();

function remember(o: DocumentedOperation, res: LightMyRequestResponse): void {
  if (o.method !== 'get' || res.statusCode !== 200 || o.path.endsWith('}')) return;
  // Lists whose first item is the caller's own session or account: acting on it would end the run.
  if (NOT_HARVESTED.includes(o.path)) return;
  if (!/json/.test(String(res.headers['content-type']))) return;
  const body = res.json() as unknown;
  const list = Array.isArray(body)
    ? body
    : Object.values(body as Record<string, unknown>).find((v): v is unknown[] => Array.isArray(v));
  const first = list?.[0];
  if (first && typeof first === 'object') firstItems.set(o.path, first as Record<string, unknown>);
}

/** An id for `{name}` in `path` from the list just before it (`/org/members` for `/org/members/{user_id}`). */
function knownId(path: string, name: string): string | undefined {
  const list = path.slice(0, path.indexOf(`/{${name}}`));
  const item = firstItems.get(list);
  const value = item?.[name] ?? item?.id ?? item?.client_id;
  return typeof value === 'string' ? value : undefined;
}

/** The first scheme of the operation's security that this test holds; none for `{}` or no security. */
function schemeFor(o: DocumentedOperation): string | null {
  if (o.path === '/api/oauth/userinfo') return 'openidToken';
  const reqs = o.op.security ?? [];
  // Instance routes are called as the operator; everything else as the owner's browser first.
  const admin = o.path.startsWith('/api/v1/admin/') && reqs.some((r) => 'adminToken' in r);
  if (admin) return 'adminToken';
  for (const r of reqs) {
    const names = Object.keys(r);
    if (names.length === 1 && credentials[names[0]!]) return names[0]!;
  }
  return null;
}

async function call(o: DocumentedOperation): Promise<LightMyRequestResponse> {
  let url = o.path;
  const query = new URLSearchParams();
  for (const p of o.op.parameters ?? []) {
    const value = String(
      p.in === 'path' ? (knownId(o.path, p.name) ?? sampleOf(p.schema)) : sampleOf(p.schema),
    );
    if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(value));
    else if (p.in === 'query' && p.required) query.set(p.name, value);
  }
  url = url.replace(/\{\w+\}/g, () => crypto.randomUUID());
  if ([...query].length > 0) url += `?${query}`;
  const headers: Record<string, string> = {};
  const scheme = schemeFor(o);
  if (scheme === 'session') {
    if (owner.cookie) headers.cookie = `lk_session=${owner.cookie}`;
    headers['x-org-id'] = orgId;
  } else if (scheme) Object.assign(headers, credentials[scheme]);
  if (scheme === 'bearer') headers['x-org-id'] = orgId;
  const content = o.op.requestBody?.content ?? {};
  const form = content['application/x-www-form-urlencoded'];
  const json = content['application/json'];
  let payload: string | undefined;
  if (form) {
    const sample = sampleOf(form.schema) as Record<string, unknown>;
    payload = new URLSearchParams(Object.entries(sample).map(([k, v]) => [k, String(v)])).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (json) {
    payload = JSON.stringify(sampleOf(json.schema));
    headers['content-type'] = 'application/json';
  }
  if (o.method !== 'get') headers.origin = PUBLIC_URL;
  return t.app.inject({
    method: o.method.toUpperCase() as 'GET',
    url,
    headers,
    remoteAddress: '10.99.0.1',
    ...(payload !== undefined ? { payload } : {}),
  });
}

/** Why the answer breaks the document, or null when it keeps to it. */
function breach(ajv: Ajv2020, o: DocumentedOperation, res: LightMyRequestResponse): string | null {
  const documented = documentedResponse(o.op, res.statusCode);
  if (!documented) return `answered ${res.statusCode}, which is not documented: ${res.body.slice(0, 300)}`;
  if (res.statusCode >= 500) return `answered ${res.statusCode}: ${res.body.slice(0, 300)}`;
  const type = String(res.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim();
  if (!documented.content) {
    return res.body === '' ? null : `answered a ${res.statusCode} body the document says is empty`;
  }
  if (res.body === '' && res.statusCode === 204) return null;
  const media = documented.content[type];
  if (!media) {
    const listed = Object.keys(documented.content).join(', ');
    return `answered ${res.statusCode} as ${type || 'no content type'}; documented: ${listed}`;
  }
  if (!media.schema) return null;
  const body: unknown = type === 'application/json' || type.endsWith('+json') ? res.json() : res.body;
  const validate = ajv.compile(media.schema);
  if (validate(body)) return null;
  return `${res.statusCode} body breaks its schema: ${ajv.errorsText(validate.errors)} — ${res.body.slice(0, 300)}`;
}

describe('every documented operation answers as documented', () => {
  it('calls each operation with its security scheme and checks status and body', async () => {
    const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
    // The document inlines every schema (no $ref): each response schema compiles on its own.
    assert.equal(JSON.stringify(doc).includes('"$ref"'), false);
    const ops = operations(doc);
    const key = (o: DocumentedOperation) => `${o.method.toUpperCase()} ${o.pattern}`;
    ops.sort((a, b) => rank(a) - rank(b));
    const failures: string[] = [];
    const statuses = new Map<string, number>();
    for (const o of ops) {
      const res = await call(o);
      remember(o, res);
      console.log('DBG', res.statusCode, key(o), res.statusCode >= 400 ? res.body.slice(0, 160) : '');
      const cls = `${String(res.statusCode)[0]}xx`;
      statuses.set(cls, (statuses.get(cls) ?? 0) + 1);
      const why = breach(ajv, o, res);
      if (why) failures.push(`${key(o)}: ${why}`);
    }
    const summary = [...statuses].map(([k, v]) => `${k}: ${v}`).join(', ');
    console.log(`${ops.length} operations called — ${summary}`);
    assert.deepEqual(failures, []);
    // The calls reach the handlers: a good share succeed, so their success schemas are checked too.
    assert.ok((statuses.get('2xx') ?? 0) >= ops.length / 3, summary);
  });
});
