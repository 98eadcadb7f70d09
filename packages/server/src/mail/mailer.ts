import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadOnce } from '../lib/load-once.js';
import { newSecret } from '../lib/secrets.js';
import { linksIn, outboxEml } from './outbox.js';

export interface Message {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  readonly kind: 'smtp' | 'outbox';
  send(msg: Message): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  smtpUrl: string | null;
  from: string;
  /** Folder for the dev outbox when no SMTP server is configured. */
  outboxDir: string;
  log: Logger;
  /**
   * Whether the dev outbox's log line lists each message's links. They hold one-time tokens, so
   * only readable development logs (a person at a terminal) carry them; JSON logs, which are
   * shipped and kept, name the file only.
   */
  logLinks?: boolean;
}

/**
 * SMTP when SMTP_URL is set; otherwise a dev outbox that writes each message as an .eml file and
 * logs its links.
 */
export function createMailer(opts: MailerOptions): Mailer {
  if (opts.smtpUrl) {
    const smtpUrl = opts.smtpUrl;
    // nodemailer is loaded on the first message: without SMTP_URL the dev outbox below never pays
    // for it. A failed load or transport setup fails that send and is tried again by the next.
    const transport = loadOnce(async () => (await import('nodemailer')).default.createTransport(smtpUrl));
    let opened: Awaited<ReturnType<typeof transport>> | null = null;
    return {
      kind: 'smtp',
      async send(msg) {
        opened = await transport();
        await opened.sendMail({ from: opts.from, ...msg });
      },
      close: () => opened?.close(),
    };
  }
  let written = 0;
  return {
    kind: 'outbox',
    async send(msg) {
      mkdirSync(opts.outboxDir, { recursive: true });
      const now = new Date();
      const stamp = now.toISOString().replace(/[:.]/g, '-');
      // Names sort in the order messages were written, even two in one millisecond.
      const file = join(opts.outboxDir, `${stamp}-${String(++written).padStart(6, '0')}-${newSecret(6)}.eml`);
      writeFileSync(file, outboxEml(opts.from, msg, now), { mode: 0o600 });
      // Development only (no SMTP server): the links are in the file already; a readable log line
      // shows them so that following one needs no file opened.
      opts.log.info(
        // Never the recipient: an address is personal data, and logs are kept (waitlisted addresses
        // are stored only as hashes).
        { file, subject: msg.subject, ...(opts.logLinks ? { links: linksIn(msg.text) } : {}) },
        'mail written to the dev outbox',
      );
    },
    close: () => {},
  };
}
