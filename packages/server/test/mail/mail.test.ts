import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { invitationEmail, magicLinkEmail, plain } from '../../src/mail/templates.js';
import { PUBLIC_URL, type TestServer, testServer, uniqueEmail } from '../helpers/harness.js';

interface Received {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
}

const received: Received[] = [];
let smtp: SMTPServer;
let t: TestServer;

before(async () => {
  // A real SMTP server on loopback stands in for the mail provider.
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, done) {
      simpleParser(stream).then(
        (m) => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: m.subject ?? '',
            text: m.text ?? '',
            html: typeof m.html === 'string' ? m.html : '',
          });
          done();
        },
        (err: Error) => done(err),
      );
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as AddressInfo).port;
  t = await testServer({
    env: { SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_FROM: 'Latchkey Test <auth@example.com>' },
  });
});
after(async () => {
  await t.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

describe('mail over SMTP', () => {
  it('delivers the magic link through the configured SMTP server, from MAIL_FROM', async () => {
    const email = uniqueEmail('smtp');
    assert.equal((await t.client().post('/api/auth/magic-link', { email })).statusCode, 202);
    const m = received.find((r) => r.to.includes(email));
    assert.ok(m, 'the SMTP server received the message');
    assert.equal(m.from, 'auth@example.com');
    assert.match(m.text, new RegExp(`${PUBLIC_URL}/api/auth/magic-link/callback\\?token=[A-Za-z0-9_-]{43}`));
  });

  it('escapes the org and inviter names in invitations, in HTML and in plain text', async () => {
    const c = t.client();
    const { org } = await c.signup({ name: 'Mallory <img src=x onerror=alert(1)>', verify: false });
    assert.equal(
      (await c.patch('/api/v1/org', { name: '<script>alert(1)</script>\nClick http://evil.example' }, org.id))
        .statusCode,
      200,
    );
    const email = uniqueEmail('invitee');
    assert.equal(
      (await c.post('/api/v1/org/invitations', { email, role: 'member' }, org.id)).statusCode,
      201,
    );
    const m = received.find((r) => r.to.includes(email));
    assert.ok(m);
    assert.ok(!m.html.includes('<script>'), 'no raw script tag in HTML');
    assert.ok(!m.html.includes('<img src=x'), 'no raw img tag in HTML');
    assert.ok(m.html.includes('&#60;script&#62;'));
    assert.ok(!/\n\s*Click http:\/\/evil/.test(m.text), 'a name cannot start a new line of its own');
    assert.ok(!m.subject.includes('\n'));
  });
});

describe('templates', () => {
  it('turn user text into one bounded line', () => {
    assert.equal(plain('a\r\nb\u2028c\u0000d'), 'a b c d');
    assert.equal(plain('x'.repeat(300)).length, 200);
  });

  it('escape every user-provided value in HTML', () => {
    const m = invitationEmail({
      to: 'a@example.com',
      orgName: '"><b>',
      inviterName: "O'Neil & co",
      role: 'member',
      link: 'http://localhost/invite?token=a&b',
      days: 7,
    });
    assert.ok(!m.html.includes('"><b>'));
    assert.ok(m.html.includes('O&#39;Neil &#38; co'));
    assert.ok(m.html.includes('token&#61;a&#38;b'));
    assert.ok(
      magicLinkEmail('a@example.com', 'http://x/?token="<>', 15).html.includes('token&#61;&#34;&#60;&#62;'),
    );
  });
});
