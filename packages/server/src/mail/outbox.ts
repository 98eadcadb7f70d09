import { randomBytes } from 'node:crypto';
import type { Message } from './mailer.js';

/**
 * The dev outbox's .eml format. Each part is sent as UTF-8 `8bit`, never quoted-printable, so a
 * link in a message is one unbroken line that can be copied from the file as it is.
 */

const ASCII = /^[\x20-\x7e]*$/;

/** An RFC 2047 encoded word when the value is not plain ASCII. */
function word(value: string): string {
  return ASCII.test(value) ? value : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** `Name <address>` with the name encoded when needed; a bare address as it is. */
function mailbox(value: string): string {
  const m = /^\s*(.*?)\s*<([^<>]+)>\s*$/.exec(value);
  if (!m) return value;
  return m[1] ? `${word(m[1].replace(/^"(.*)"$/, '$1'))} <${m[2]}>` : `<${m[2]}>`;
}

/** One line each: the body's CR and LF are line ends, and header values cannot hold either. */
const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ');
const lines = (s: string) => s.replace(/\r\n?/g, '\n');

/** The whole message as written to the outbox (LF line ends). */
export function outboxEml(from: string, msg: Message, now: Date): string {
  const boundary = `latchkey-${randomBytes(12).toString('hex')}`;
  const part = (type: string, body: string) =>
    [
      `--${boundary}`,
      `Content-Type: ${type}; charset=utf-8`,
      'Content-Transfer-Encoding: 8bit',
      '',
      lines(body),
    ].join('\n');
  return [
    `From: ${mailbox(oneLine(from))}`,
    `To: ${mailbox(oneLine(msg.to))}`,
    `Subject: ${word(oneLine(msg.subject))}`,
    `Date: ${now.toUTCString()}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@latchkey.outbox>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    part('text/plain', msg.text),
    part('text/html', msg.html),
    `--${boundary}--`,
    '',
  ].join('\n');
}

/** Every distinct http(s) link in a plain-text body, in order. */
export function linksIn(text: string): string[] {
  return [...new Set(text.match(/https?:\/\/[^\s"<>]+/g) ?? [])];
}
