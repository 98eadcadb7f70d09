import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Database } from '../db/schema.js';
import type { Deps } from '../deps.js';
import type { Clock } from '../lib/clock.js';
import type { Message } from '../mail/mailer.js';
import { escapeHtml, layout, plain } from '../mail/templates.js';
import { isKnownDevice, presentedDevice, rememberDevice } from './devices.js';

/** Where a person sees and ends their sessions (the account page of the dashboard). */
export const SESSIONS_PAGE_PATH = '/app/account';

/** What the mail about a sign-in from a new browser says; sent after the sign-in commits. */
export interface NewDeviceSignin {
  to: string;
  at: Date;
  method: string;
  ip: string | null;
  userAgent: string | null;
}

/**
 * Called where a full session is created for a browser (never for a pending one: a sign-in that
 * still waits for its second factor records nothing, and the completion calls this instead).
 * Remembers the browser's device cookie for the account and, when the account has signed in
 * before from some browser but never (within the device TTL) from this one, writes
 * `user.new_device_signin` in the caller's transaction and returns what to mail the person once
 * it commits (`notifyNewDevice`). The first browser an account ever signs in from is not news.
 * A sign-in without a device cookie (a client that keeps none) counts as a new browser and is
 * remembered nowhere. `device: null` says the browser's cookie cannot reach this request (a SAML
 * response is a cross-site POST, which a `SameSite=Lax` cookie does not ride): nothing is judged.
 * Never records the cookie or its hash in the event.
 */
export async function signedInFromDevice(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  s: { userId: string; method: string; device: string | undefined | null; pending?: string | null },
): Promise<NewDeviceSignin | null> {
  if (s.pending || s.device === null) return null;
  const device = presentedDevice(s.device);
  const known = await isKnownDevice(trx, clock, s.userId, device);
  const before = known
    ? true
    : (await trx
        .selectFrom('trusted_devices')
        .select('user_id')
        .where('user_id', '=', s.userId)
        .limit(1)
        .executeTakeFirst()) !== undefined;
  if (device) await rememberDevice(trx, clock, s.userId, device);
  if (known || !before) return null;
  await audit(
    trx,
    clock,
    { ...who, actor: `user:${s.userId}` },
    {
      orgId: null,
      action: 'user.new_device_signin',
      target: `user:${s.userId}`,
      data: { method: s.method, ip: who.ip, user_agent: who.userAgent?.slice(0, 512) ?? null },
    },
  );
  const user = await trx.selectFrom('users').select('email').where('id', '=', s.userId).executeTakeFirst();
  if (!user) return null;
  return { to: user.email, at: clock.now(), method: s.method, ip: who.ip, userAgent: who.userAgent };
}

const METHOD_NAMES: Record<string, string> = {
  password: 'password',
  magic_link: 'a sign-in link',
  passkey: 'a passkey',
  github: 'GitHub',
  google: 'Google',
  sso: 'single sign-on',
  second_factor: 'a second factor, after a password or sign-in link',
};

export function newDeviceEmail(n: NewDeviceSignin, publicUrl: string): Message {
  const when = n.at
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
  const ip = n.ip ?? 'unknown';
  const browser = n.userAgent ? plain(n.userAgent) : 'unknown';
  const how = METHOD_NAMES[n.method] ?? plain(n.method, 40);
  const sessions = `${publicUrl}${SESSIONS_PAGE_PATH}`;
  const advice =
    'If this was not you, open your sessions page, sign that session out, and change your password (and turn on a second factor if you have none).';
  return {
    to: n.to,
    subject: 'New sign-in to your Latchkey account',
    text: `Your Latchkey account was signed in to from a browser it had not been used from before.\n\nWhen: ${when}\nIP address: ${ip}\nBrowser: ${browser}\nSigned in with: ${how}\n\nIf this was you, there is nothing to do.\n\n${advice}\n\nYour sessions: ${sessions}\n`,
    html: layout(
      'New sign-in to your account',
      `<p>Your Latchkey account was signed in to from a browser it had not been used from before.</p><ul><li>When: ${escapeHtml(when)}</li><li>IP address: ${escapeHtml(ip)}</li><li>Browser: ${escapeHtml(browser)}</li><li>Signed in with: ${escapeHtml(how)}</li></ul><p>If this was you, there is nothing to do.</p><p>${escapeHtml(advice)}</p><p><a href="${escapeHtml(sessions)}">Your sessions</a></p>`,
    ),
  };
}

/**
 * Mails the person about a sign-in from a new browser (after the sign-in committed). A mail that
 * cannot be sent is logged and does not undo the sign-in.
 */
export async function notifyNewDevice(
  deps: Pick<Deps, 'mailer' | 'config'>,
  n: NewDeviceSignin | null,
  log: Pick<Logger, 'warn'>,
): Promise<void> {
  if (!n) return;
  try {
    await deps.mailer.send(newDeviceEmail(n, deps.config.publicUrl));
  } catch (err) {
    // The error's name only: a mail server's message may quote the address.
    log.warn({ err: err instanceof Error ? err.name : 'unknown' }, 'new-device sign-in mail not sent');
  }
}
