import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/config/index.js';

// The provider and sign-up policy settings: validated once, naming the setting, never echoing a secret.

const cwd = mkdtempSync(join(tmpdir(), 'latchkey-social-config-'));
after(() => rmSync(cwd, { recursive: true, force: true }));

function refused(env: Record<string, string>, setting: string, secret?: string) {
  assert.throws(
    () => loadConfig({ env, cwd }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.setting, setting, err.message);
      if (secret) assert.ok(!err.message.includes(secret), err.message);
      return true;
    },
  );
}

describe('social sign-in and sign-up policy settings', () => {
  it('a provider is on only with both its client id and secret, and the defaults are the real endpoints', () => {
    const none = loadConfig({ env: {}, cwd });
    assert.equal(none.github, null);
    assert.equal(none.google, null);
    assert.equal(none.signupPolicy, 'open');
    const c = loadConfig({
      env: {
        GITHUB_CLIENT_ID: 'id',
        GITHUB_CLIENT_SECRET: 's3cret',
        GOOGLE_CLIENT_ID: 'g',
        GOOGLE_CLIENT_SECRET: 'gs',
      },
      cwd,
    });
    assert.deepEqual(c.github, {
      clientId: 'id',
      clientSecret: 's3cret',
      authorizeUrl: 'https://github.com/login/oauth/authorize',
      tokenUrl: 'https://github.com/login/oauth/access_token',
      apiUrl: 'https://api.github.com',
    });
    assert.deepEqual(c.google, { clientId: 'g', clientSecret: 'gs', issuer: 'https://accounts.google.com' });
    refused({ GITHUB_CLIENT_ID: 'id' }, 'GITHUB_CLIENT_SECRET');
    refused({ GOOGLE_CLIENT_SECRET: 'a-secret-value' }, 'GOOGLE_CLIENT_ID', 'a-secret-value');
    refused(
      { GITHUB_CLIENT_ID: 'id', GITHUB_CLIENT_SECRET: 'has space secret' },
      'GITHUB_CLIENT_SECRET',
      'has space',
    );
  });

  it('provider endpoints are https, or plain http only to a loopback stand-in (announced)', () => {
    refused({ GOOGLE_ISSUER: 'http://accounts.example.com' }, 'GOOGLE_ISSUER');
    refused({ GITHUB_TOKEN_URL: 'ftp://example.com/token' }, 'GITHUB_TOKEN_URL');
    refused({ GITHUB_AUTHORIZE_URL: 'https://github.com/authorize?x=1' }, 'GITHUB_AUTHORIZE_URL');
    const c = loadConfig({ env: { GITHUB_API_URL: 'http://127.0.0.1:9999/api/' }, cwd });
    assert.ok(c.devDefaults.some((d) => d.startsWith('GITHUB_API_URL=http://127.0.0.1:9999')));
  });

  it('SIGNUP_POLICY is one of open, invite-only, waitlist', () => {
    assert.equal(loadConfig({ env: { SIGNUP_POLICY: 'waitlist' }, cwd }).signupPolicy, 'waitlist');
    assert.equal(loadConfig({ env: { SIGNUP_POLICY: 'invite-only' }, cwd }).signupPolicy, 'invite-only');
    refused({ SIGNUP_POLICY: 'closed' }, 'SIGNUP_POLICY');
  });
});
