// test-backend: embedded — the subject is the CLI, not storage
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { type TestServer, uniqueEmail } from '@latchkey/server/testing';
import { assertNoStack, json, readToml, run, startLatchkey, stopAll, tempHome } from './helpers.js';

interface Received {
  to: string[];
  text: string;
}

/**
 * Agent self-serve signup end to end: the CLI signs up, a real SMTP server on loopback receives
 * the human's email, the test reads the code from it and the CLI verifies with it.
 */
describe('latchkey agent signup / verify / status', () => {
  const received: Received[] = [];
  const waiting: (() => void)[] = [];
  let smtp: SMTPServer;
  let t: TestServer;
  let url: string;
  const h = tempHome();
  const opts = { home: h.home };
  const human = uniqueEmail('overseer');

  before(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, done) {
        simpleParser(stream).then(
          (m) => {
            received.push({ to: session.envelope.rcptTo.map((r) => r.address), text: m.text ?? '' });
            for (const w of waiting.splice(0)) w();
            done();
          },
          (err: Error) => done(err),
        );
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const port = (smtp.server.address() as AddressInfo).port;
    ({ t, url } = await startLatchkey({ SMTP_URL: `smtp://127.0.0.1:${port}` }));
  });
  after(async () => {
    stopAll();
    await t.close();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    h.cleanup();
  });

  /** The newest mail to `to`, waiting for it to arrive if need be (no polling, no sleeps). */
  async function mailTo(to: string): Promise<Received> {
    for (;;) {
      const m = received.filter((r) => r.to.includes(to)).pop();
      if (m) return m;
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  }

  let code: string;

  it('signs up, stores the agent key for the server, prints no secret', async () => {
    const r = await run(
      [
        'agent',
        'signup',
        '--server',
        url,
        '--human-email',
        human,
        '--name',
        'Build Bot',
        '--note-to-human',
        'I am the release agent.',
        '--harness',
        'claude-code',
        '--json',
      ],
      opts,
    );
    assert.equal(r.code, 0, r.stderr);
    const doc = json<{
      server: string;
      agent_id: string;
      org_id: string;
      status: string;
      key_prefix: string;
    }>(r);
    assert.equal(doc.server, url);
    assert.equal(doc.status, 'unclaimed');
    assert.match(doc.key_prefix, /^lk_svc_agent_[A-Za-z0-9]{8}…$/);
    // The install URL comes with the signup, not only after verification.
    assert.equal(
      (doc as { mcp_install_url?: string }).mcp_install_url,
      `${url}/agents/install?harness=claude-code`,
    );
    const agent = readToml(h.configPath).servers[url].agent;
    assert.match(agent.api_key, /^lk_svc_agent_/);
    assert.equal(agent.agent_id, doc.agent_id);
    assert.equal(agent.org_id, doc.org_id);
    assert.equal(agent.status, 'unclaimed');
    assert.ok(!(r.stdout + r.stderr).includes(agent.api_key), 'the key is stored, never printed');

    const mail = await mailTo(human);
    assert.match(mail.text, /Build Bot/);
    code = /verification code[^\n]*\n\s*(\d{6})\s*\n/.exec(mail.text)?.[1] ?? '';
    assert.match(code, /^\d{6}$/, mail.text);
  });

  it('status: unclaimed, with restrictions', async () => {
    const r = await run(['agent', 'signup', 'status', '--json'], opts);
    assert.equal(r.code, 0, r.stderr);
    const s = json<{
      claim_status: string;
      restrictions: { allowed_scopes: string[] };
      entitlements: object;
    }>(r);
    assert.equal(s.claim_status, 'unclaimed');
    assert.ok(Array.isArray(s.restrictions.allowed_scopes));
    assert.ok(s.entitlements);
    const text = await run(['agent', 'signup', 'status'], opts);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Claim status: +unclaimed/);
  });

  it('a wrong code is refused with the attempts left (exit 1)', async () => {
    const wrong = code === '000000' ? '111111' : '000000';
    const r = await run(['agent', 'signup', 'verify', '--code', wrong, '--json'], opts);
    assert.equal(r.code, 1, r.stderr);
    const doc = json<{ error: { code: string; attempts_remaining: number } }>(r);
    assert.equal(typeof doc.error.attempts_remaining, 'number');
    assert.ok(doc.error.attempts_remaining > 0);
    assert.match(r.stderr, /attempts? left/);
    assertNoStack(r);
  });

  it('verifies with the code from the email: claimed', async () => {
    const r = await run(['agent', 'signup', 'verify', '--code', code], opts);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Agent claimed\./);
    assert.equal(readToml(h.configPath).servers[url].agent.status, 'claimed');

    const s = await run(['agent', 'signup', 'status', '--json'], opts);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(json<{ claim_status: string }>(s).claim_status, 'claimed');
  });

  it('will not replace a stored agent key unless asked (--replace)', async () => {
    const r = await run(['agent', 'signup', '--human-email', human, '--name', 'Build Bot'], opts);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already stored[\s\S]*--replace/);
  });

  it('--replace signs up anew; --show-key prints the new key once, the one stored', async () => {
    const before = readToml(h.configPath).servers[url].agent.agent_id as string;
    const r = await run(
      ['agent', 'signup', '--human-email', human, '--name', 'Build Bot', '--replace', '--show-key', '--json'],
      opts,
    );
    assert.equal(r.code, 0, r.stderr);
    const doc = json<{ agent_id: string; api_key: string }>(r);
    const agent = readToml(h.configPath).servers[url].agent;
    assert.notEqual(doc.agent_id, before);
    assert.equal(agent.agent_id, doc.agent_id);
    assert.equal(doc.api_key, agent.api_key);
    assert.equal(agent.status, 'unclaimed');
  });

  it('prints the install URL at once, for any harness (zed), and refuses a malformed one before calling', async () => {
    const other = tempHome();
    try {
      const args = [
        'agent',
        'signup',
        '--server',
        url,
        '--human-email',
        uniqueEmail('zed'),
        '--name',
        'Zed Bot',
      ];
      const r = await run([...args, '--harness', 'Zed'], { home: other.home });
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        new RegExp(`Install the MCP server: ${url.replace(/[.]/g, '\\.')}/agents/install\\?harness=zed`),
      );
      assert.ok(
        !r.stdout.includes(readToml(other.configPath).servers[url].agent.api_key),
        'no secret printed',
      );
      const bad = await run([...args, '--harness', 'my editor', '--replace'], { home: other.home });
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /--harness is a short identifier/);
      assertNoStack(bad);
    } finally {
      other.cleanup();
    }
  });
});
