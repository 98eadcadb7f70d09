import type { Message } from './mailer.js';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Makes user-provided text safe for a plain-text body or a subject line: one line, no control
 * characters, bounded length. (A name cannot forge extra lines or headers.)
 */
export function plain(s: string, max = 200): string {
  const one = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

export function layout(title: string, bodyHtml: string): string {
  return `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#111">
<h1 style="font-size:20px">${escapeHtml(title)}</h1>${bodyHtml}
<p style="color:#666;font-size:12px">Sent by Latchkey. If you did not expect this email, you can ignore it.</p>
</body></html>`;
}

export function button(href: string, label: string): string {
  return `<p><a href="${escapeHtml(href)}" style="display:inline-block;padding:10px 16px;background:#111;color:#fff;text-decoration:none;border-radius:6px">${escapeHtml(label)}</a></p>
<p style="font-size:12px;color:#666">Or paste this link into your browser: ${escapeHtml(href)}</p>`;
}

export function magicLinkEmail(to: string, link: string, minutes: number): Message {
  return {
    to,
    subject: 'Your Latchkey sign-in link',
    text: `Sign in to Latchkey with this link (valid ${minutes} minutes, usable once):\n\n${link}\n`,
    html: layout(
      'Sign in to Latchkey',
      `<p>This link is valid for ${minutes} minutes and works once.</p>${button(link, 'Sign in')}`,
    ),
  };
}

export interface InvitationMail {
  to: string;
  orgName: string;
  inviterName: string | null;
  role: string;
  link: string;
  days: number;
}

export function invitationEmail(m: InvitationMail): Message {
  const who = m.inviterName ? `${plain(m.inviterName, 100)} invited you` : 'You are invited';
  const whoHtml = m.inviterName ? `${escapeHtml(plain(m.inviterName, 100))} invited you` : 'You are invited';
  return {
    to: m.to,
    subject: `Invitation to join ${plain(m.orgName, 100)} on Latchkey`,
    text: `${who} to join "${plain(m.orgName, 100)}" on Latchkey as ${m.role}.\n\nAccept the invitation (valid ${m.days} days):\n\n${m.link}\n`,
    html: layout(
      `Join ${plain(m.orgName, 100)}`,
      `<p>${whoHtml} to join <strong>${escapeHtml(plain(m.orgName, 100))}</strong> as <strong>${escapeHtml(m.role)}</strong>.</p>
${button(m.link, 'Accept invitation')}<p>The invitation is valid for ${m.days} days.</p>`,
    ),
  };
}

export interface TokenLeakMail {
  to: string;
  prefix: string;
  name: string | null;
  url: string | null;
}

/** Tells a token's owner that it was found in public and has been revoked. */
export function tokenLeakEmail(m: TokenLeakMail): Message {
  const label = m.name ? `"${plain(m.name, 100)}" (${m.prefix}…)` : `${m.prefix}…`;
  const where = m.url ? `\n\nWhere it was found: ${plain(m.url, 500)}` : '';
  return {
    to: m.to,
    subject: `A Latchkey token was exposed and has been revoked (${m.prefix}…)`,
    text: `A secret scanner reported your Latchkey token ${label} in a public place. It has been revoked and no longer works.${where}\n\nMint a new token if you still need one, and remove the old one from where it was published.\n`,
    html: layout(
      'A token was exposed and revoked',
      `<p>A secret scanner reported your Latchkey token <code>${escapeHtml(label)}</code> in a public place. It has been revoked and no longer works.</p>
${m.url ? `<p>Where it was found: ${escapeHtml(plain(m.url, 500))}</p>` : ''}<p>Mint a new token if you still need one, and remove the old one from where it was published.</p>`,
    ),
  };
}

export interface AgentSignupMail {
  to: string;
  agentName: string;
  note: string | null;
  harness: string | null;
  code: string;
  minutes: number;
  /** The page where the person, signed in, approves or denies the agent. */
  reviewLink: string;
}

/**
 * Asks the human an agent named as its overseer to verify it: the 6-digit code to give the agent,
 * and a link to approve or deny it. The agent's name and note are its own words: one line each,
 * bounded, escaped, and quoted as the agent's.
 */
export function agentSignupEmail(m: AgentSignupMail): Message {
  const name = plain(m.agentName, 100);
  const note = m.note ? plain(m.note, 500) : null;
  const via = m.harness ? ` (running in ${plain(m.harness, 40)})` : '';
  return {
    to: m.to,
    subject: `An AI agent, "${name}", asks you to verify it on Latchkey`,
    text: `An AI agent calling itself "${name}"${via} signed up on Latchkey and named you as the person who oversees it.
${note ? `\nIts note to you: "${note}"\n` : ''}
If you started this agent, give it this verification code (valid ${m.minutes} minutes):

    ${m.code}

Or approve or deny it here, signed in with this email address:

${m.reviewLink}

Until you verify it, the agent works with restricted rights and a small daily budget. If you do not know this agent, deny it or ignore this email.
`,
    html: layout(
      'An AI agent asks you to verify it',
      `<p>An AI agent calling itself <strong>${escapeHtml(name)}</strong>${escapeHtml(via)} signed up on Latchkey and named you as the person who oversees it.</p>
${note ? `<p>Its note to you:</p><blockquote style="border-left:3px solid #ccc;margin:0;padding-left:12px">${escapeHtml(note)}</blockquote>` : ''}
<p>If you started this agent, give it this verification code (valid ${m.minutes} minutes):</p>
<p style="font-size:28px;font-weight:700;letter-spacing:4px;font-family:monospace">${escapeHtml(m.code)}</p>
<p>Or approve or deny it, signed in with this email address:</p>${button(m.reviewLink, 'Review the agent')}
<p>Until you verify it, the agent works with restricted rights and a small daily budget. If you do not know this agent, deny it or ignore this email.</p>`,
    ),
  };
}

export interface DomainUnverifiedMail {
  to: string;
  orgName: string;
  domain: string;
  /** The TXT record that proves the domain again. */
  recordName: string;
  recordValue: string;
  days: number;
  /** Where an owner re-checks it (the dashboard's SSO settings). */
  settingsLink: string;
}

/**
 * Tells an org's owner that one of its SSO domains lost its verified state because its DNS record
 * has been gone for `days` days. The org name comes from users: one line, escaped.
 */
export function domainUnverifiedEmail(m: DomainUnverifiedMail): Message {
  const org = plain(m.orgName, 100);
  const domain = plain(m.domain, 253);
  const record = `${plain(m.recordName, 300)} TXT "${plain(m.recordValue, 100)}"`;
  return {
    to: m.to,
    subject: `${domain} is no longer a verified domain of ${org} on Latchkey`,
    text: `The DNS record that proves "${org}" controls ${domain} has been missing for ${m.days} days, so ${domain} is no longer verified. Until it is verified again, sign-ins with ${domain} addresses are not routed to your SSO connection and new accounts at ${domain} are not created by it.

To verify it again, publish this record and press "Check DNS" in the SSO settings:

    ${record}

${m.settingsLink}
`,
    html: layout(
      `${domain} is no longer verified`,
      `<p>The DNS record that proves <strong>${escapeHtml(org)}</strong> controls <strong>${escapeHtml(domain)}</strong> has been missing for ${m.days} days, so the domain is no longer verified. Until it is verified again, sign-ins with its addresses are not routed to your SSO connection and new accounts there are not created by it.</p>
<p>To verify it again, publish this record and press “Check DNS” in the SSO settings:</p>
<p><code>${escapeHtml(record)}</code></p>${button(m.settingsLink, 'Open SSO settings')}`,
    ),
  };
}

export interface VerifyEmailMail {
  to: string;
  /** The name the sign-up gave (user text: escaped, one line). */
  name: string;
  link: string;
  hours: number;
}

/** Asks the owner of an address to confirm it after a password sign-up. */
export function verifyEmailEmail(m: VerifyEmailMail): Message {
  const name = plain(m.name, 100);
  return {
    to: m.to,
    subject: 'Confirm your email address for Latchkey',
    text: `Hello ${name},\n\nConfirm that this address is yours (the link is valid ${m.hours} hours and works once):\n\n${m.link}\n\nIf you did not sign up for Latchkey, someone else used your address. Opening the link and confirming ends the password and sessions they set, and the account is then yours alone.\n`,
    html: layout(
      'Confirm your email address',
      `<p>Hello ${escapeHtml(name)},</p><p>Confirm that this address is yours. The link is valid for ${m.hours} hours and works once.</p>${button(m.link, 'Confirm my address')}
<p>If you did not sign up for Latchkey, someone else used your address: confirming ends the password and sessions they set, and the account is then yours alone.</p>`,
    ),
  };
}
