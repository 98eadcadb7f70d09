import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hashToken, mintToken, parseToken, TOKEN_KINDS } from '../../src/tokens/format.js';

describe('token format', () => {
  it('mints lk_<kind>_<43 base62><6 base62> tokens that parse back to their kind', () => {
    for (const kind of TOKEN_KINDS) {
      const t = mintToken(kind);
      assert.match(t.token, new RegExp(`^lk_${kind}_[0-9A-Za-z]{49}$`));
      assert.deepEqual(parseToken(t.token), { kind, display: t.display });
      assert.equal(t.display, t.token.slice(0, `lk_${kind}_`.length + 8));
      assert.equal(t.hash, hashToken(t.token));
      assert.match(t.hash, /^[0-9a-f]{64}$/);
    }
  });

  it('draws every secret character uniformly from base62, each position on its own', () => {
    // 20 000 secrets: 860 000 characters, about 13 900 of each. Bytes mapped modulo 62 without
    // throwing away the top eight values would make 0-7 a quarter likelier than the rest.
    const SECRETS = 20_000;
    const counts = new Map<string, number>();
    const firsts = new Set<string>();
    for (let i = 0; i < SECRETS; i++) {
      const secret = mintToken('at').token.slice('lk_at_'.length, -6);
      assert.equal(secret.length, 43);
      firsts.add(secret[0]!);
      for (const ch of secret) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    assert.equal(counts.size, 62);
    const expected = (SECRETS * 43) / 62;
    for (const [ch, n] of counts) assert.ok(Math.abs(n - expected) < expected * 0.05, `${ch}: ${n}`);
    assert.equal(firsts.size, 62, 'the first character is as free as the others');
  });

  it('never confuses svc_agent with svc', () => {
    assert.equal(parseToken(mintToken('svc_agent').token)?.kind, 'svc_agent');
    assert.equal(parseToken(mintToken('svc').token)?.kind, 'svc');
  });

  it('rejects any single-character change (checksum)', () => {
    const { token } = mintToken('pat');
    fc.assert(
      fc.property(
        fc.integer({ min: 7, max: token.length - 1 }),
        fc.constantFrom(...'0123456789abcXYZ'),
        (i, ch) => {
          fc.pre(token[i] !== ch);
          const changed = token.slice(0, i) + ch + token.slice(i + 1);
          return parseToken(changed) === null;
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects other prefixes, kinds, lengths and random strings', () => {
    const { token } = mintToken('org');
    for (const bad of [
      '',
      'lk_',
      token.slice(0, -1),
      `${token}0`,
      token.replace('lk_', 'xx_'),
      token.replace('_org_', '_foo_'),
      ` ${token}`,
    ]) {
      assert.equal(parseToken(bad), null, bad);
    }
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => parseToken(s) === null));
  });

  it('supports a configured prefix', () => {
    const t = mintToken('pat', 'acme');
    assert.ok(t.token.startsWith('acme_pat_'));
    assert.equal(parseToken(t.token, 'acme')?.kind, 'pat');
    assert.equal(parseToken(t.token), null);
  });

  it('gives every token a fresh secret', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => mintToken('pat').token));
    assert.equal(seen.size, 1000);
  });
});
