import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  claimedEmail,
  type EmailTrust,
  type EmailVerification,
  readEmailVerified,
  usableEmail,
} from '../../src/federation/claims.js';

// The one email_verified policy: every claim form, read once, and what each caller may rely on.

describe('readEmailVerified', () => {
  const cases: [unknown, EmailVerification][] = [
    [true, 'verified'],
    ['true', 'verified'],
    [false, 'unverified'],
    ['false', 'unverified'],
    [undefined, 'unstated'],
    [null, 'unstated'],
    ['', 'unstated'],
    ['TRUE', 'unstated'],
    ['True', 'unstated'],
    [' true', 'unstated'],
    ['FALSE', 'unstated'],
    ['yes', 'unstated'],
    ['1', 'unstated'],
    [1, 'unstated'],
    [0, 'unstated'],
    [{}, 'unstated'],
    [[true], 'unstated'],
  ];
  for (const [claim, expected] of cases) {
    it(`${JSON.stringify(claim) ?? 'undefined'} (${typeof claim}) is ${expected}`, () => {
      assert.equal(readEmailVerified(claim), expected);
    });
  }
});

describe('claimedEmail', () => {
  it('normalises the address (trimmed, lower-cased)', () => {
    assert.deepEqual(claimedEmail('  Ada@Example.COM ', true), {
      address: 'ada@example.com',
      verification: 'verified',
    });
  });

  it('an absent, non-string or invalid address is null, whatever the claim says', () => {
    for (const email of [
      undefined,
      null,
      42,
      ['a@example.com'],
      '',
      'not-an-address',
      'a@localhost',
      'a b@example.com',
      `${'x'.repeat(250)}@example.com`,
    ]) {
      const e = claimedEmail(email, true);
      assert.equal(e.address, null, String(email));
      assert.equal(e.verification, 'verified');
    }
  });
});

describe('usableEmail', () => {
  const forms: [unknown, { verified_only: boolean; unless_unverified: boolean }][] = [
    [true, { verified_only: true, unless_unverified: true }],
    ['true', { verified_only: true, unless_unverified: true }],
    [false, { verified_only: false, unless_unverified: false }],
    ['false', { verified_only: false, unless_unverified: false }],
    [undefined, { verified_only: false, unless_unverified: true }],
    [null, { verified_only: false, unless_unverified: true }],
    ['maybe', { verified_only: false, unless_unverified: true }],
  ];
  for (const [claim, usable] of forms) {
    for (const trust of ['verified_only', 'unless_unverified'] as EmailTrust[]) {
      it(`email_verified ${JSON.stringify(claim) ?? 'absent'} under ${trust}: ${usable[trust] ? 'usable' : 'not usable'}`, () => {
        const out = usableEmail(claimedEmail('Grace@Example.com', claim), trust);
        assert.equal(out, usable[trust] ? 'grace@example.com' : null);
      });
    }
  }

  it('an unverified address is never usable, under any trust', () => {
    for (const trust of ['verified_only', 'unless_unverified'] as EmailTrust[]) {
      for (const claim of [false, 'false']) {
        assert.equal(
          usableEmail({ address: 'a@example.com', verification: readEmailVerified(claim) }, trust),
          null,
        );
      }
    }
  });

  it('no address is never usable, even when verified', () => {
    for (const trust of ['verified_only', 'unless_unverified'] as EmailTrust[]) {
      assert.equal(usableEmail(claimedEmail('nope', true), trust), null);
      assert.equal(usableEmail(claimedEmail(undefined, 'true'), trust), null);
    }
  });
});
