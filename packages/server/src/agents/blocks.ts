import { BlockList, isIP } from 'node:net';
import { sql, type Transaction } from 'kysely';
import { type Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { AgentBlockKind } from '../db/schema/agents.js';
import type { Database } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { newId, UUID_RE } from '../lib/secrets.js';
import { BLOCK_REASON_MAX, BLOCKED_ATTEMPTS_KEPT_MS } from './limits.js';
import type { Executor } from '../db/executor.js';

/**
 * Operator blocks on agent signup. `ip`: a client address or CIDR range refused at signup;
 * `email_domain`: overseer addresses at that domain or any subdomain of it; `org`: an org whose
 * owners may not be named as overseers of new agents and whose agents may not be claimed.
 */
export const BLOCK_KINDS = ['ip', 'email_domain', 'org'] as const satisfies readonly AgentBlockKind[];

/** The reason code a refused signup carries on the wire (`agent_signup_blocked`). */
export type BlockReason = 'ip_blocked' | 'email_domain_blocked' | 'org_blocked';
const REASON: Record<AgentBlockKind, BlockReason> = {
  ip: 'ip_blocked',
  email_domain: 'email_domain_blocked',
  org: 'org_blocked',
};

export interface Block {
  id: string;
  kind: AgentBlockKind;
  value: string;
  reason: string | null;
  created_by: string;
  created_at: Date;
}

const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/;

/**
 * The stored form of a block's value, or null when it is not one: an IP range as `start/bits`
 * (a bare address is its own /32 or /128; `10.1.2.3/8` is stored as `10.0.0.0/8`, the range it
 * names), a domain in lowercase without a leading `@`, an org id in lowercase. Ranges wider than
 * /8 (IPv4) or /16 (IPv6) are refused: that is a typo, not a block.
 */
export function normaliseBlockValue(kind: AgentBlockKind, raw: string): string | null {
  const v = raw.trim();
  if (kind === 'org') return UUID_RE.test(v) ? v.toLowerCase() : null;
  if (kind === 'email_domain') {
    const d = v.toLowerCase().replace(/^@/, '');
    return DOMAIN_RE.test(d) ? d : null;
  }
  const [addr, bits, extra] = v.split('/');
  if (extra !== undefined || !addr) return null;
  const family = isIP(addr);
  if (family === 0 || (family === 6 && addr.includes('.'))) return null;
  const max = family === 4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return null;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max || prefix < (family === 4 ? 8 : 16)) return null;
  return `${rangeStart(addr, prefix, family)}/${prefix}`;
}

/** The eight 16-bit groups of an IPv6 address (no embedded IPv4 form). */
function groups6(addr: string): number[] | null {
  if (addr.includes('.')) return null;
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, null];
  const parse = (s: string) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const h = parse(head!);
  const t = tail === null || tail === undefined ? [] : parse(tail);
  return [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/** The first address of the `prefix`-bit range holding `addr`. */
function rangeStart(addr: string, prefix: number, family: number): string {
  if (family === 4) {
    const octets = addr.split('.').map(Number);
    return octets
      .map((o, i) => {
        const keep = Math.min(8, Math.max(0, prefix - i * 8));
        return keep === 8 ? o : keep === 0 ? 0 : o & ((0xff << (8 - keep)) & 0xff);
      })
      .join('.');
  }
  const g = groups6(addr) ?? [];
  return g
    .map((x, i) => {
      const keep = Math.min(16, Math.max(0, prefix - i * 16));
      return (keep === 16 ? x : keep === 0 ? 0 : x & ((0xffff << (16 - keep)) & 0xffff)).toString(16);
    })
    .join(':');
}

export async function listBlocks(db: Executor): Promise<Block[]> {
  return db
    .selectFrom('agent_blocks')
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
}

export type AddBlockOutcome = { ok: true; block: Block } | { ok: false; reason: 'exists' | 'no_such_org' };

/** Adds a block, audited; refused when the same block exists or (for an org) the org does not. */
export async function addBlock(
  trx: Transaction<Database>,
  clock: Clock,
  who: Actor,
  b: { kind: AgentBlockKind; value: string; reason: string | null },
): Promise<AddBlockOutcome> {
  if (b.kind === 'org') {
    const org = await trx.selectFrom('orgs').select('id').where('id', '=', b.value).executeTakeFirst();
    if (!org) return { ok: false, reason: 'no_such_org' };
  }
  const row = await trx
    .insertInto('agent_blocks')
    .values({
      id: newId(),
      kind: b.kind,
      value: b.value,
      reason: b.reason?.slice(0, BLOCK_REASON_MAX) ?? null,
      created_by: who.actor,
      created_at: clock.now(),
    })
    .onConflict((oc) => oc.columns(['kind', 'value']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!row) return { ok: false, reason: 'exists' };
  await audit(trx, clock, who, {
    orgId: b.kind === 'org' ? b.value : null,
    action: 'agent_block.created',
    target: `agent_block:${row.id}`,
    data: { kind: row.kind, value: row.value, reason: row.reason },
    subjectUserId: null,
  });
  return { ok: true, block: row };
}

/** Lifts a block, audited. False when there was none. */
export async function removeBlock(trx: Transaction<Database>, clock: Clock, who: Actor, id: string) {
  const row = await trx.deleteFrom('agent_blocks').where('id', '=', id).returningAll().executeTakeFirst();
  if (!row) return false;
  await audit(trx, clock, who, {
    orgId: row.kind === 'org' ? row.value : null,
    action: 'agent_block.removed',
    target: `agent_block:${row.id}`,
    data: { kind: row.kind, value: row.value },
    subjectUserId: null,
  });
  return true;
}

export interface Refusal {
  blockId: string;
  reason: BlockReason;
}

/** The domain of a normalised address. */
export const emailDomain = (email: string) => email.slice(email.lastIndexOf('@') + 1);

/**
 * The block that refuses a signup from `ip` naming `humanEmail`, if any: the client's range, the
 * overseer's domain (or a parent domain), or an org the overseer owns.
 */
export async function signupRefusal(db: Executor, ip: string, humanEmail: string): Promise<Refusal | null> {
  const domain = emailDomain(humanEmail);
  const parents = domain.split('.').map((_, i, parts) => parts.slice(i).join('.'));
  const rows = await db
    .selectFrom('agent_blocks')
    .select(['id', 'kind', 'value'])
    .where((eb) =>
      eb.or([
        eb('kind', '=', 'ip'),
        eb.and([eb('kind', '=', 'email_domain'), eb('value', 'in', parents)]),
        eb.and([
          eb('kind', '=', 'org'),
          eb(
            'value',
            'in',
            eb
              .selectFrom('memberships')
              .innerJoin('users', 'users.id', 'memberships.user_id')
              .select(sql<string>`cast(memberships.org_id as text)`.as('org'))
              .where('users.email', '=', humanEmail)
              .where('memberships.role', '=', 'owner'),
          ),
        ]),
      ]),
    )
    .execute();
  const family = isIP(ip);
  for (const r of rows) {
    if (r.kind !== 'ip') return { blockId: r.id, reason: REASON[r.kind] };
    if (family === 0) continue;
    const [addr, bits] = r.value.split('/');
    const rangeFamily = isIP(addr!);
    if (rangeFamily !== family) continue;
    const list = new BlockList();
    list.addSubnet(addr!, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
    if (list.check(ip, family === 4 ? 'ipv4' : 'ipv6')) return { blockId: r.id, reason: REASON.ip };
  }
  return null;
}

/** The org block on `orgId`, if any (its agents may not be claimed). */
export async function orgRefusal(db: Executor, orgId: string): Promise<Refusal | null> {
  const row = await db
    .selectFrom('agent_blocks')
    .select('id')
    .where('kind', '=', 'org')
    .where('value', '=', orgId)
    .executeTakeFirst();
  return row ? { blockId: row.id, reason: 'org_blocked' } : null;
}

/** Records a refused signup for operators (the overseer's domain only). */
export async function recordBlockedAttempt(
  db: Executor,
  clock: Clock,
  a: { refusal: Refusal; ip: string; emailDomain: string; orgId: string | null },
): Promise<void> {
  await db
    .insertInto('agent_blocked_attempts')
    .values({
      id: newId(),
      block_id: a.refusal.blockId,
      reason: a.refusal.reason,
      ip: a.ip,
      email_domain: a.emailDomain,
      org_id: a.orgId,
      created_at: clock.now(),
    })
    .execute();
}

export async function listBlockedAttempts(
  db: Executor,
  limit: number,
  after: { at: Date; id: string } | null,
) {
  let q = db.selectFrom('agent_blocked_attempts').selectAll();
  if (after)
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '<', after.at),
        eb.and([eb('created_at', '=', after.at), eb('id', '<', after.id)]),
      ]),
    );
  return q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
}

/** Forgets refused attempts older than they are kept. */
export async function pruneBlockedAttempts(db: Executor, clock: Clock): Promise<number> {
  const r = await db
    .deleteFrom('agent_blocked_attempts')
    .where('created_at', '<', new Date(clock.now().getTime() - BLOCKED_ATTEMPTS_KEPT_MS))
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
