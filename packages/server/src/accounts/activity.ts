import type { Db } from '../db/connection.js';
import type { Cursor } from '../http/pagination.js';

/**
 * A person's own activity log: the audit events whose subject is their account (see
 * `subjectOf` in audit/log.ts), newest first. Each is reduced to what the person may see: who
 * acted (themselves, another person by name, a credential kind, someone not signed in, the
 * system), where from (IP and a
 * short device summary), and the event's detail restricted to `DETAIL_KEYS` — never a secret, a
 * hash, or what someone else typed.
 */

/** Event detail a person may see on their own log; anything else in `data` stays in the audit log. */
const DETAIL_KEYS = [
  'method',
  'via',
  'role',
  'from',
  'to',
  'kind',
  'prefix',
  'name',
  'scopes',
  'expires_at',
  'reason',
  'revoked_sessions',
  'instance_admin',
  'account',
] as const;

export interface ActivityEvent {
  id: string;
  action: string;
  created_at: string;
  org: { id: string; name: string | null } | null;
  actor: { kind: 'you' | 'person' | 'credential' | 'anonymous' | 'system'; name: string | null };
  ip: string | null;
  device: string | null;
  details: Record<string, unknown>;
}

const USER_ACTOR = /^user:(.+)$/;

/** "Firefox on Linux", "curl", … — a summary of a User-Agent, or null when there is none. */
export function deviceSummary(ua: string | null): string | null {
  if (!ua) return null;
  const tool = /^(curl|Wget|python-requests|node-fetch|undici|latchkey)\b/i.exec(ua)?.[1];
  if (tool) return tool.toLowerCase();
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrome\/|Chromium\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : null;
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(ua)
          ? 'macOS'
          : /Linux|X11/.test(ua)
            ? 'Linux'
            : null;
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? os ?? 'Other';
}

function details(data: unknown): Record<string, unknown> {
  const d = (typeof data === 'string' ? JSON.parse(data) : data) as Record<string, unknown> | null;
  const out: Record<string, unknown> = {};
  if (!d || typeof d !== 'object') return out;
  for (const k of DETAIL_KEYS) if (d[k] !== undefined) out[k] = d[k];
  return out;
}

/** One page (limit + 1 rows, for `page()`) of the events about `userId`, after `after`. */
export async function listActivity(
  db: Db,
  userId: string,
  q: { limit: number; after: Cursor | null; since: Date | null },
) {
  let query = db
    .selectFrom('audit_events')
    .leftJoin('orgs', 'orgs.id', 'audit_events.org_id')
    .select([
      'audit_events.id',
      'audit_events.action',
      'audit_events.actor',
      'audit_events.org_id',
      'orgs.name as org_name',
      'audit_events.ip',
      'audit_events.user_agent',
      'audit_events.created_at',
      'audit_events.data',
    ])
    .where('audit_events.subject_user_id', '=', userId);
  if (q.since) query = query.where('audit_events.created_at', '>=', q.since);
  const after = q.after;
  if (after) {
    query = query.where((eb) =>
      eb.or([
        eb('audit_events.created_at', '<', after.at),
        eb.and([eb('audit_events.created_at', '=', after.at), eb('audit_events.id', '<', after.id)]),
      ]),
    );
  }
  const rows = await query
    .orderBy('audit_events.created_at', 'desc')
    .orderBy('audit_events.id', 'desc')
    .limit(q.limit + 1)
    .execute();

  // Other people who acted on this account in an org, by name (an org admin who changed a role).
  const others = [
    ...new Set(
      rows
        .filter((r) => r.org_id !== null)
        .map((r) => USER_ACTOR.exec(r.actor)?.[1])
        .filter((id): id is string => id !== undefined && id !== userId && /^[0-9a-f-]{36}$/i.test(id)),
    ),
  ];
  const names = new Map(
    others.length
      ? (await db.selectFrom('users').select(['id', 'name']).where('id', 'in', others).execute()).map(
          (u) => [u.id, u.name] as const,
        )
      : [],
  );

  return rows.map((r) => {
    const actorId = USER_ACTOR.exec(r.actor)?.[1];
    const actor: ActivityEvent['actor'] =
      actorId === userId
        ? { kind: 'you', name: null }
        : actorId !== undefined
          ? // Named only for what they did in an org both belong to (an admin's change); a person
            // acting elsewhere on this account (a failed sign-in from their browser) stays unnamed.
            { kind: 'person', name: r.org_id ? (names.get(actorId) ?? null) : null }
          : r.actor === 'anonymous' || r.actor === 'system'
            ? { kind: r.actor, name: null }
            : { kind: 'credential', name: r.actor.split(':')[0] ?? null };
    const event: ActivityEvent = {
      id: r.id,
      action: r.action,
      created_at: r.created_at.toISOString(),
      org: r.org_id ? { id: r.org_id, name: r.org_name } : null,
      actor,
      ip: r.ip,
      device: deviceSummary(r.user_agent),
      details: details(r.data),
    };
    return { event, cursor: { at: r.created_at, id: r.id } };
  });
}
