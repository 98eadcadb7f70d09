import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';

const BASE = {
  LATCHKEY_SECRET: 'test-latchkey-secret-0123456789abcdef',
  LATCHKEY_DATA_DIR: '/tmp/latchkey-cfg',
};

describe('webhook and audit file settings', () => {
  it('defaults: https only, retries for 24 h starting at 10 s, no audit file', () => {
    const c = loadConfig({ env: BASE, cwd: '/srv' });
    assert.deepEqual(c.webhooks, { allowLoopback: false, retryBaseMs: 10_000, retryWindowMs: 86_400_000 });
    assert.equal(c.auditLogFile, null);
    assert.ok(!c.devDefaults.some((d) => d.includes('WEBHOOK')));
  });

  it('reads them, resolves a relative audit file against the working folder, announces loopback', () => {
    const c = loadConfig({
      env: {
        ...BASE,
        WEBHOOK_ALLOW_LOOPBACK: 'true',
        WEBHOOK_RETRY_BASE_MS: '250',
        WEBHOOK_RETRY_WINDOW_SECONDS: '60',
        AUDIT_LOG_FILE: 'logs/audit.jsonl',
      },
      cwd: '/srv',
    });
    assert.deepEqual(c.webhooks, { allowLoopback: true, retryBaseMs: 250, retryWindowMs: 60_000 });
    assert.equal(c.auditLogFile, '/srv/logs/audit.jsonl');
    assert.ok(c.devDefaults.some((d) => d.startsWith('WEBHOOK_ALLOW_LOOPBACK=true')));
  });

  it('refuses bad values, naming the setting', () => {
    const bad: Record<string, string> = {
      WEBHOOK_ALLOW_LOOPBACK: 'maybe',
      WEBHOOK_RETRY_BASE_MS: '5',
      WEBHOOK_RETRY_WINDOW_SECONDS: '0',
      AUDIT_LOG_FILE: 'a\nb',
    };
    for (const [name, value] of Object.entries(bad)) {
      assert.throws(
        () => loadConfig({ env: { ...BASE, [name]: value }, cwd: '/srv' }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(name),
        name,
      );
    }
  });
});
