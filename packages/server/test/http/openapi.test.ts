// test-backend: embedded — the document is the same on every storage backend.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { type TestServer, testServer } from '../helpers/harness.js';
import { type OpenApiDocument, operations } from './openapi-doc.js';
import { allRoutes } from './routes.js';

/**
 * Routes under /api and /.well-known left out of the document, each with why. Everything else
 * the server serves there must be in it.
 */
const HIDDEN: Record<string, string> = {
  'GET /api/oauth/end-session': 'RP-initiated logout: an HTML page for the browser, not an API.',
  'POST /api/oauth/end-session': 'RP-initiated logout: the HTML page’s own form post.',
  'GET /api/sso/start': 'Browser redirect to the organisation’s identity provider.',
  'GET /api/sso/oidc/callback': 'Browser redirect back from an OIDC identity provider.',
  'POST /api/sso/saml/acs/:id': 'SAML assertion consumer service: a browser form post from the IdP.',
  'GET /api/sso/saml/metadata/:id': 'SAML SP metadata: XML for identity provider administrators.',
};

let t: TestServer;
let doc: OpenApiDocument;
before(async () => {
  t = await testServer();
  const res = await t.app.inject({ url: '/api/openapi.json' });
  assert.equal(res.statusCode, 200);
  doc = res.json() as OpenApiDocument;
});
after(() => t.close());

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const result = await new Validator().validate(doc as never);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 1)?.slice(0, 3000));
  });

  it('documents every route under /api and /.well-known, except the listed browser flows', () => {
    const served = allRoutes(t.app).filter(
      (r) => (r.path.startsWith('/api/') || r.path.startsWith('/.well-known/')) && r.method !== 'OPTIONS',
    );
    assert.ok(served.length > 150, `only ${served.length} routes found`);
    const documented = new Set(operations(doc).map((o) => `${o.method.toUpperCase()} ${o.pattern}`));
    const missing = served
      .map((r) => `${r.method} ${r.path}`)
      .filter((k) => !documented.has(k) && !HIDDEN[k]);
    assert.deepEqual(missing, []);
    // The exceptions are still served (a stale entry would hide nothing and mislead).
    for (const k of Object.keys(HIDDEN)) {
      assert.ok(
        served.some((r) => `${r.method} ${r.path}` === k),
        `${k} is listed as hidden but not served`,
      );
      assert.ok(!documented.has(k), `${k} is listed as hidden but documented`);
    }
  });

  it('documents the OAuth endpoints with form bodies, client authentication and RFC 6749 errors', () => {
    const token = doc.paths['/api/oauth/token']?.post;
    assert.ok(token);
    assert.ok(token.requestBody?.content?.['application/x-www-form-urlencoded']?.schema);
    assert.deepEqual(token.security, [{ clientSecretBasic: [] }, {}]);
    const error = token.responses['4XX']?.content?.['application/json']?.schema as {
      properties?: Record<string, unknown>;
    };
    assert.ok(error?.properties?.error && error.properties.error_description);
    for (const path of [
      '/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server',
      '/.well-known/oauth-protected-resource/api',
      '/.well-known/jwks.json',
      '/api/oauth/authorize',
      '/api/oauth/register',
      '/api/oauth/revoke',
      '/api/oauth/introspect',
      '/api/oauth/device',
      '/api/oauth/userinfo',
    ]) {
      assert.ok(doc.paths[path], `${path} is documented`);
    }
  });

  it('gives every operation a unique camelCase operationId, a tag, security and error responses', () => {
    const ids = new Map<string, string>();
    const schemes = new Set(Object.keys(doc.components.securitySchemes));
    for (const o of operations(doc)) {
      const where = `${o.method} ${o.path}`;
      const id = o.op.operationId;
      assert.ok(id && /^[a-z][A-Za-z0-9]*$/.test(id), `${where}: operationId ${id}`);
      assert.equal(ids.get(id), undefined, `${where} and ${ids.get(id)} share operationId ${id}`);
      ids.set(id, where);
      assert.ok((o.op.tags?.length ?? 0) > 0, `${where} has a tag`);
      assert.ok(Array.isArray(o.op.security), `${where} states its security`);
      for (const req of o.op.security ?? [])
        for (const s of Object.keys(req)) assert.ok(schemes.has(s), `${where}: unknown scheme ${s}`);
      assert.ok(o.op.responses['4XX'] || o.op.responses['400'], `${where} documents its errors`);
      const success = Object.keys(o.op.responses).filter((s) => /^[23]/.test(s));
      assert.ok(success.length > 0, `${where} documents its success`);
    }
  });

  it('declares the session cookie, bearer tokens, the ADMIN_TOKEN and client_secret_basic', () => {
    const s = doc.components.securitySchemes;
    assert.deepEqual(s.session, { ...s.session, type: 'apiKey', in: 'cookie', name: 'lk_session' });
    assert.equal(s.bearer?.scheme, 'bearer');
    assert.equal(s.adminToken?.scheme, 'bearer');
    assert.equal(s.clientSecretBasic?.scheme, 'basic');
    // An org route takes a session or a token; an admin route also the ADMIN_TOKEN.
    const members = doc.paths['/api/v1/org/members']?.get;
    assert.ok(members?.security?.some((r) => 'session' in r));
    assert.ok(members?.security?.some((r) => 'bearer' in r));
  });

  it('describes problems as application/problem+json with their stable code', () => {
    const op = doc.paths['/api/v1/org/members']?.get;
    const schema = op?.responses['4XX']?.content?.['application/problem+json']?.schema as {
      properties?: Record<string, unknown>;
    };
    assert.ok(schema?.properties?.code && schema.properties.status && schema.properties.type);
  });
});
