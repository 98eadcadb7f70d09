import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from '../../src/lib/secrets.js';

/** Token secrets come from a pool of CSPRNG output: every byte is handed out once, whatever the sizes. */
describe('random bytes from the pool', () => {
  it('never hands out the same bytes twice, across many refills and odd sizes', () => {
    const seen = new Set<string>();
    let total = 0;
    for (let i = 0; i < 5_000; i++) {
      const n = [32, 10, 7, 1, 500, 33][i % 6]!;
      const b = randomBytes(n);
      assert.equal(b.length, n);
      total += n;
      if (n >= 7) {
        const hex = b.toString('hex');
        assert.ok(!seen.has(hex), `draw ${i} repeated an earlier one`);
        seen.add(hex);
      }
    }
    assert.ok(total > 50 * 4096, 'the pool was refilled many times');
  });

  it('a draw is its own copy: zeroing its place in the pool leaves it whole', () => {
    for (let i = 0; i < 1_000; i++) assert.notDeepEqual(randomBytes(16), Buffer.alloc(16));
  });

  it('a large request is served whole, outside the pool', () => {
    const b = randomBytes(10_000);
    assert.equal(b.length, 10_000);
    // 10 000 zero bytes from a CSPRNG would not happen.
    assert.ok(b.some((x) => x !== 0));
    // Output looks uniform: every byte value appears.
    assert.equal(new Set(b).size, 256);
  });
});
