// test-backend: embedded — the subject is the dev outbox's files and log lines, not storage
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { createLogger } from '../../src/http/logging.js';
import { createMailer } from '../../src/mail/mailer.js';
import { magicLinkEmail } from '../../src/mail/templates.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-outbox-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function captured() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, log: createLogger('info', stream) };
}

/** A link longer than a quoted-printable line, with `=` and `&` (the characters QP mangles). */
const LINK = `http://localhost:8484/api/auth/magic-link/verify?token=${'Ab3_'.repeat(20)}&next=%2Fapp%2F&x=y`;

describe('dev outbox', () => {
  it('writes links unbroken (8bit, no quoted-printable) and mail clients still read the message', async () => {
    const out = join(dir, 'a');
    const { log } = captured();
    const mailer = createMailer({
      smtpUrl: null,
      from: 'Latchkey Ünit <no-reply@localhost>',
      outboxDir: out,
      log,
    });
    await mailer.send({ ...magicLinkEmail('ada@example.com', LINK, 15), subject: 'Sign-in link — Ada' });
    const [file] = readdirSync(out);
    const raw = readFileSync(join(out, file!), 'utf8');
    assert.doesNotMatch(raw, /quoted-printable/i);
    assert.doesNotMatch(raw, /[^?]=\n/, 'no soft line break');
    const lines = raw.split('\n');
    assert.ok(lines.includes(LINK), 'the link is a line of its own in the text part');
    assert.ok(lines.some((l) => l.includes(`href="${LINK.replace(/&/g, '&#38;').replace(/=/g, '&#61;')}"`)));

    const parsed = await simpleParser(readFileSync(join(out, file!)));
    assert.equal(parsed.subject, 'Sign-in link — Ada');
    assert.equal(parsed.from?.value[0]?.name, 'Latchkey Ünit');
    assert.equal(parsed.from?.value[0]?.address, 'no-reply@localhost');
    assert.equal((Array.isArray(parsed.to) ? parsed.to[0] : parsed.to)?.text, 'ada@example.com');
    assert.ok(parsed.text?.includes(LINK));
    assert.ok(typeof parsed.html === 'string' && parsed.html.includes('Sign in to Latchkey'));
  });

  it('the log line that announces a message lists its links in readable development logs, never in JSON logs', async () => {
    for (const logLinks of [true, false]) {
      const { lines, log } = captured();
      const mailer = createMailer({
        smtpUrl: null,
        from: 'Latchkey <no-reply@localhost>',
        outboxDir: join(dir, `links-${logLinks}`),
        log,
        logLinks,
      });
      await mailer.send(magicLinkEmail('bob@example.com', LINK, 15));
      const line = lines.find((l) => l.msg === 'mail written to the dev outbox');
      assert.ok(line, JSON.stringify(lines));
      assert.deepEqual(line.links, logLinks ? [LINK] : undefined);
      assert.equal(JSON.stringify(lines).includes(LINK), logLinks);
      assert.ok(!JSON.stringify(lines).includes('bob@example.com'), 'the recipient is never logged');
    }
    const out = join(dir, 'b');
    const { lines, log } = captured();
    const mailer = createMailer({
      smtpUrl: null,
      from: 'Latchkey <no-reply@localhost>',
      outboxDir: out,
      log,
    });
    await mailer.send(magicLinkEmail('bob@example.com', LINK, 15));
    const line = lines.find((l) => l.msg === 'mail written to the dev outbox');
    assert.ok(line, JSON.stringify(lines));
    assert.equal(line.file, join(out, readdirSync(out)[0]!));
    assert.equal(line.subject, 'Your Latchkey sign-in link');
  });

  it('file names sort in the order the messages were written, even within one millisecond', async () => {
    const out = join(dir, 'order');
    const { log } = captured();
    const mailer = createMailer({
      smtpUrl: null,
      from: 'Latchkey <no-reply@localhost>',
      outboxDir: out,
      log,
    });
    const sent = Array.from({ length: 40 }, (_, i) => `person-${i}@example.com`);
    for (const to of sent) await mailer.send(magicLinkEmail(to, LINK, 15));
    const files = readdirSync(out).sort();
    const order = files.map((f) => /^To: (\S+)$/m.exec(readFileSync(join(out, f), 'utf8'))?.[1]);
    assert.deepEqual(order, sent);
  });

  it('a header cannot be forged through a subject or an address with a line break', async () => {
    const out = join(dir, 'c');
    const { log } = captured();
    const mailer = createMailer({
      smtpUrl: null,
      from: 'Latchkey <no-reply@localhost>',
      outboxDir: out,
      log,
    });
    await mailer.send({
      to: 'eve@example.com\nBcc: x@evil.test',
      subject: 'Hi\r\nBcc: y@evil.test',
      text: 't',
      html: '<p>h</p>',
    });
    const raw = readFileSync(join(out, readdirSync(out)[0]!), 'utf8');
    assert.doesNotMatch(raw, /^Bcc:/im);
  });
});
