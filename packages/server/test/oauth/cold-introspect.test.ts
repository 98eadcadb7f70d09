import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, testServer } from '../helpers/harness.js';
import { introspect, OAUTH_TOML, tokensFor } from './helpers.js';

// With nothing cached (AUTH_CACHE_ENTRIES=0), every introspection looks its token up in the
// database, and the lookups of one turn share one statement: each answer must still be its own
// token's — never another person's — and an unknown token stays inactive beside live ones.
let t: TestServer;
before(async () => {
  t = await testServer({ toml: OAUTH_TOML, env: { AUTH_CACHE_ENTRIES: '0' } });
});
after(() => t.close());

describe('OAuth tokens validated together in the database', () => {
  it("answers each concurrent introspection with its own token's subject, in shared lookups", async () => {
    const people = [t.client(), t.client()];
    for (const p of people) await p.signup();
    const tokens = [
      (await tokensFor(t, people[0]!)).tokens.access_token,
      (await tokensFor(t, people[1]!, { scope: 'mcp:read' })).tokens.access_token,
      (await tokensFor(t, people[1]!)).tokens.access_token,
    ];
    const unknown = `${tokens[0]!.slice(0, -8)}AAAAAAAA`;
    // One at a time first: what each token's introspection says on its own.
    const alone = new Map<string, unknown>();
    for (const tok of [...tokens, unknown]) alone.set(tok, (await introspect(t, tok)).json());
    assert.equal((alone.get(tokens[0]!) as { active: boolean }).active, true);
    assert.notEqual(
      (alone.get(tokens[0]!) as { sub: string }).sub,
      (alone.get(tokens[1]!) as { sub: string }).sub,
    );
    assert.deepEqual(alone.get(unknown), { active: false });

    const asked = Array.from({ length: 16 }, (_, i) => [...tokens, unknown][i % 4]!);
    const before = t.queries.count;
    const answers = await Promise.all(asked.map((tok) => introspect(t, tok)));
    answers.forEach((res, i) => {
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), alone.get(asked[i]!), `answer ${i}`);
    });
    // The requests arrive in one or a few turns of the event loop: far fewer lookups than tokens.
    const lookups = t.queries.touching(before, ['oauth_tokens']);
    assert.ok(lookups <= 4, `${lookups} lookups for 16 introspections`);
  });
});
