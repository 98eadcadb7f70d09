// test-backend: embedded — the subject is the CLI, not storage
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CliError, EXIT } from '../src/errors.js';
import { DEVICE_GRANT, pollDevice, type ServerMetadata } from '../src/oauth.js';

/**
 * The device flow's polling rules (RFC 8628 §3.5) against a scripted token endpoint. The wait
 * between polls is injected, so the test sees every interval without sleeping through them.
 */
describe('pollDevice', () => {
  let server: Server;
  let base: string;
  let script: { status: number; body: object }[] = [];
  const polls: URLSearchParams[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        polls.push(new URLSearchParams(body));
        const next = script.shift() ?? { status: 500, body: {} };
        res.writeHead(next.status, { 'content-type': 'application/json' }).end(JSON.stringify(next.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const meta = (): ServerMetadata => ({
    issuer: base,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
  });
  const start = {
    device_code: 'dc-1',
    user_code: 'BCDF-GHJK',
    verification_uri: 'x',
    expires_in: 600,
    interval: 5,
  };
  const oauthError = (error: string) => ({ status: 400, body: { error, error_description: error } });

  async function poll() {
    const waits: number[] = [];
    polls.length = 0;
    const out = pollDevice(base, meta(), {
      clientId: 'cli',
      start,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    return { out, waits };
  }

  it('waits the interval, adds 5 s per slow_down, and returns the tokens once approved', async () => {
    script = [
      oauthError('authorization_pending'),
      oauthError('slow_down'),
      oauthError('authorization_pending'),
      oauthError('slow_down'),
      {
        status: 200,
        body: {
          access_token: 'lk_at_x',
          refresh_token: 'lk_rt_x',
          token_type: 'Bearer',
          expires_in: 3600,
          scope: 'org:read',
        },
      },
    ];
    const { out, waits } = await poll();
    const tokens = await out;
    assert.deepEqual(waits, [5000, 5000, 10_000, 10_000, 15_000]);
    assert.equal(tokens.access_token, 'lk_at_x');
    assert.equal(tokens.refresh_token, 'lk_rt_x');
    assert.equal(tokens.scope, 'org:read');
    for (const p of polls) {
      assert.equal(p.get('grant_type'), DEVICE_GRANT);
      assert.equal(p.get('device_code'), 'dc-1');
      assert.equal(p.get('client_id'), 'cli');
    }
  });

  for (const [error, code] of [
    ['access_denied', 'access_denied'],
    ['expired_token', 'expired_token'],
  ] as const) {
    it(`${error} ends the wait with the sign-in exit code`, async () => {
      script = [oauthError('authorization_pending'), oauthError(error)];
      const { out } = await poll();
      await assert.rejects(
        out,
        (e: unknown) => e instanceof CliError && e.code === code && e.exitCode === EXIT.auth,
      );
    });
  }

  it('any other error is the mapped server error', async () => {
    script = [oauthError('invalid_grant')];
    const { out } = await poll();
    await assert.rejects(
      out,
      (e: unknown) => e instanceof CliError && e.code === 'invalid_grant' && e.exitCode === EXIT.failed,
    );
    script = [{ status: 503, body: {} }];
    const again = await poll();
    await assert.rejects(again.out, (e: unknown) => e instanceof CliError && e.exitCode === EXIT.unavailable);
  });
});
