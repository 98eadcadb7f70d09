import type { Db } from '../db/connection.js';
import type { Message } from '../mail/mailer.js';
import { escapeHtml, layout, plain } from '../mail/templates.js';

export interface EndpointDisabledMail {
  to: string;
  /** The org's name; null for an instance endpoint. */
  orgName: string | null;
  url: string;
  hours: number;
}

/** Tells an owner that an endpoint stopped receiving events after failing for the retry window. */
export function endpointDisabledEmail(m: EndpointDisabledMail): Message {
  const where = m.orgName ? `of ${plain(m.orgName, 100)}` : 'of this Latchkey instance';
  const url = plain(shownUrl(m.url), 500);
  const text = `The webhook endpoint ${url} ${where} failed every delivery for ${m.hours} hours and has been disabled. Events are no longer sent to it.\n\nFix the endpoint, then enable it again from the webhooks settings; deliveries that failed can be resent from its delivery log.\n`;
  return {
    to: m.to,
    subject: `A Latchkey webhook endpoint was disabled ${where}`,
    text,
    html: layout(
      'A webhook endpoint was disabled',
      `<p>The webhook endpoint <code>${escapeHtml(url)}</code> ${escapeHtml(where)} failed every delivery for ${m.hours} hours and has been disabled. Events are no longer sent to it.</p>
<p>Fix the endpoint, then enable it again from the webhooks settings; deliveries that failed can be resent from its delivery log.</p>`,
    ),
  };
}

/** The URL without its query: a receiver's URL may carry a token there, and mail is no place for it. */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '';
  }
}

/** Who hears about an endpoint: the org's owners, or the instance admins for an instance endpoint. */
export async function endpointOwners(
  db: Db,
  orgId: string | null,
): Promise<{ emails: string[]; orgName: string | null }> {
  if (orgId === null) {
    const rows = await db
      .selectFrom('users')
      .select('email')
      .where('instance_admin', '=', true)
      .where('disabled_at', 'is', null)
      .execute();
    return { emails: rows.map((r) => r.email), orgName: null };
  }
  const rows = await db
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .innerJoin('orgs as o', 'o.id', 'm.org_id')
    .select(['u.email', 'o.name'])
    .where('m.org_id', '=', orgId)
    .where('m.role', '=', 'owner')
    .where('u.disabled_at', 'is', null)
    .execute();
  const org =
    rows[0]?.name ??
    (await db.selectFrom('orgs').select('name').where('id', '=', orgId).executeTakeFirst())?.name ??
    null;
  return { emails: rows.map((r) => r.email), orgName: org };
}
