import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { compileAllSchemas } from '../../src/app.js';
import { LazySchemas } from '../../src/http/lazy-schemas.js';
import { type TestServer, testServer } from '../helpers/harness.js';

// Route schemas compile when a route is first used (src/http/lazy-schemas.ts). What must still
// hold: every schema of the app compiles (checked here at once, as the start used to), a route
// validates and serializes exactly as before on its first call and after, and a schema that cannot
// compile is named.

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(async () => {
  await t.close();
});

describe('route schemas compiled on first use', () => {
  it('every route schema of the app compiles', () => {
    const compiled = compileAllSchemas(t.app);
    assert.ok(compiled > 100, `compiled ${compiled} schemas`);
    assert.equal(compileAllSchemas(t.app), 0, 'nothing is left to compile');
  });

  it('a route refuses a bad body and serializes its answer on first use and after', async () => {
    const fresh = await testServer();
    try {
      const c = fresh.client();
      for (let i = 0; i < 2; i++) {
        const bad = await c.post('/api/auth/signup', { email: 'not-an-address', name: 'X' });
        assert.equal(bad.statusCode, 400, bad.body);
        assert.deepEqual(bad.json(), {
          type: 'urn:latchkey:problem:invalid_request',
          title: 'Invalid request',
          status: 400,
          code: 'invalid_request',
          detail: '`password` is required.',
        });
      }
      const person = await c.signup();
      const me = await c.get('/api/v1/me');
      assert.equal(me.statusCode, 200, me.body);
      // The serializer writes what the schema names, in its order.
      const body = me.json() as { user: { email: string } };
      assert.equal(body.user.email, person.user.email);
      assert.deepEqual(Object.keys(body).slice(0, 3), ['user', 'org', 'orgs']);
    } finally {
      await fresh.close();
    }
  });

  it('names the route of a schema that does not compile', () => {
    const lazy = new LazySchemas();
    const ajv = new Ajv();
    const validate = lazy.validator('POST /broken body', () => ajv.compile({ type: 'no-such-type' }));
    lazy.serializer('GET /fine 200', { type: 'object', properties: { a: { type: 'string' } } });
    assert.throws(() => lazy.compileAll(), /POST \/broken body: the schema does not compile/);
    assert.throws(() => validate({}), /POST \/broken body/);
  });

  it('a validator reports its errors as Ajv does, call by call', () => {
    const lazy = new LazySchemas();
    const ajv = new Ajv();
    const validate = lazy.validator('POST /x body', () =>
      ajv.compile({ type: 'object', required: ['a'], properties: { a: { type: 'string' } } }),
    ) as ((d: unknown) => boolean) & { errors: unknown[] | null };
    assert.equal(validate({}), false);
    assert.equal((validate.errors as { keyword: string }[])[0]!.keyword, 'required');
    assert.equal(validate({ a: 'x' }), true);
    assert.equal(validate.errors, null);
  });
});
