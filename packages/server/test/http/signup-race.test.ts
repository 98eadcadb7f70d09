import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_PASSWORD, type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';

// Regression test for a race found by the lifecycle test on PostgreSQL: people signing up at the same moment
// with the same name each get a personal org whose slug is derived from the name. Two transactions
// can both see the slug free; the second insert then violates orgs.slug's unique index, and the
// sign-up answers 409 `email_taken` for an email nobody has.

let t: TestServer;
before(async () => {
  t = await testServer();
});
after(() => t.close());

describe('concurrent sign-ups with one name', () => {
  it('all succeed: a slug collision is never reported as a taken email', async () => {
    const failures: string[] = [];
    for (let round = 0; round < 3; round++) {
      const name = `Twin ${round} ${Date.now()}`;
      const res = await Promise.all(
        Array.from({ length: 12 }, () =>
          t
            .client()
            .post('/api/auth/signup', { email: uniqueEmail('twin'), password: DEFAULT_PASSWORD, name }),
        ),
      );
      for (const r of res) if (r.statusCode !== 201) failures.push(`${r.statusCode} ${r.json().code}`);
    }
    assert.deepEqual(failures, []);
  });
});
