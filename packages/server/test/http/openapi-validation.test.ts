import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { Type } from 'typebox';
import { RoleShape } from '../../src/http/shapes.js';
import { type AjvErrorObject, validationSentence } from '../../src/http/validation-messages.js';
import { type Client, type TestServer, testServer } from '../helpers/harness.js';

/**
 * A request the route schemas refuse answers 400 `invalid_request` whose `detail` is a sentence
 * naming the field and what it must be — never Ajv's schema text (`body/role must be equal to
 * one of the allowed values`), and never the value that was sent.
 */
let t: TestServer;
let owner: Client;
let orgId: string;
let userId: string;
before(async () => {
  t = await testServer();
  owner = t.client();
  const s = await owner.signup();
  orgId = s.org.id;
  userId = s.user.id;
});
after(() => t.close());

async function detailOf(res: { statusCode: number; body: string; headers: Record<string, unknown> }) {
  assert.equal(res.statusCode, 400, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = JSON.parse(res.body) as { code: string; detail: string };
  assert.equal(body.code, 'invalid_request');
  assert.doesNotMatch(body.detail, /must NOT|must have required|must be equal to|body\/|querystring\//);
  return body.detail;
}

describe('validation errors read as sentences', () => {
  it('enum: a role outside the four names them all, and nothing changes', async () => {
    const res = await owner.patch(`/api/v1/org/members/${userId}`, { role: 'emperor' }, orgId);
    assert.equal(await detailOf(res), '`role` must be one of owner, admin, member, billing.');
    const members = await owner.get('/api/v1/org/members', orgId);
    const me = (members.json() as { data: { user_id: string; role: string }[] }).data.find(
      (m) => m.user_id === userId,
    );
    assert.equal(me?.role, 'owner');
  });

  it('required: a missing field is named', async () => {
    const res = await t.client().post('/api/auth/signup', { password: 'a sturdy passphrase 42', name: 'N' });
    assert.equal(await detailOf(res), '`email` is required.');
  });

  it('type, minLength, maxLength and additionalProperties on a body', async () => {
    assert.equal(await detailOf(await owner.post('/api/v1/orgs', { name: 5 })), '`name` must be a string.');
    assert.equal(await detailOf(await owner.post('/api/v1/orgs', { name: '' })), '`name` must not be empty.');
    assert.equal(
      await detailOf(await owner.post('/api/v1/orgs', { name: 'x'.repeat(101) })),
      '`name` must be at most 100 characters long.',
    );
    assert.equal(
      await detailOf(await owner.post('/api/v1/orgs', { name: 'Acme', plan: 'free' })),
      '`plan` is not a field this accepts.',
    );
    const me = (await owner.get('/api/v1/me')).json() as { orgs: unknown[] };
    assert.equal(me.orgs.length, 1, 'no org was created by a refused request');
  });

  it('format: a path id that is not a UUID', async () => {
    const res = await owner.delete('/api/v1/tokens/not-a-uuid');
    assert.equal(await detailOf(res), '`id` must be a UUID.');
  });

  it('a body that is not an object at all', async () => {
    const res = await owner.req({
      method: 'POST',
      url: '/api/v1/orgs',
      body: '[1]',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(await detailOf(res), 'The request body must be an object.');
  });
});

describe('validationSentence, over the errors Ajv really reports', () => {
  const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
  const ajv = addFormats(new Ajv({ strict: false, allErrors: false, coerceTypes: false }));
  const sentence = (schema: object, value: unknown, context = 'body') => {
    const validate = ajv.compile(schema);
    assert.equal(validate(value), false, 'the value must be refused');
    return validationSentence(validate.errors as AjvErrorObject[], context);
  };

  it('names nested fields and array items by their path', () => {
    const schema = Type.Object({
      owner: Type.Object({ contacts: Type.Array(Type.Object({ email: Type.String({ format: 'email' }) })) }),
    });
    assert.equal(
      sentence(schema, { owner: { contacts: [{ email: 'a@example.com' }, { email: 'nope' }] } }),
      '`owner.contacts[1].email` must be an email address.',
    );
  });

  it('enum keywords, unions of literals, and unions of types', () => {
    assert.equal(
      sentence(Type.Object({ role: RoleShape }), { role: 'x' }),
      '`role` must be one of owner, admin, member, billing.',
    );
    assert.equal(
      sentence({ type: 'object', properties: { kind: { enum: ['pat', 'svc'] } } }, { kind: 'x' }),
      '`kind` must be one of pat, svc.',
    );
    assert.equal(
      sentence(Type.Object({ scopes: Type.Union([Type.Array(Type.String()), Type.Null()]) }), { scopes: 5 }),
      '`scopes` must be an array or null.',
    );
  });

  it('numbers, arrays and the query string', () => {
    const q = Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 100 }) });
    assert.equal(sentence(q, { limit: 0 }, 'querystring'), '`limit` must be at least 1.');
    assert.equal(sentence(q, { limit: 101 }, 'querystring'), '`limit` must be at most 100.');
    assert.equal(sentence(q, { limit: 1.5 }, 'querystring'), '`limit` must be a whole number.');
    assert.equal(sentence(q, {}, 'querystring'), '`limit` is required.');
    const list = Type.Object({ ids: Type.Array(Type.String(), { minItems: 1, uniqueItems: true }) });
    assert.equal(sentence(list, { ids: [] }), '`ids` must have at least 1 item.');
    assert.equal(sentence(list, { ids: ['a', 'a'] }), '`ids` must not list the same item twice.');
    assert.equal(
      sentence(Type.Object({ name: Type.String({ minLength: 3 }) }), { name: 'ab' }),
      '`name` must be at least 3 characters long.',
    );
  });

  it('never repeats the value that was sent', () => {
    const secret = 'lk_pat_do-not-echo-this-value';
    const out = sentence(Type.Object({ slug: Type.String({ pattern: '^[a-z]+$' }) }), { slug: secret });
    assert.equal(out, '`slug` is not in the expected form.');
    assert.ok(!out.includes(secret));
  });
});
