import { randomUUID } from 'node:crypto';
import type { ExpressionBuilder } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { Database } from '../db/schema.js';

/** Whose endpoints: an org's, or (null) the instance's. */
export type Owner = string | null;

export interface Endpoint {
  id: string;
  orgId: string | null;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  failingSince: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface Delivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  responseStatus: number | null;
  error: string | null;
  createdAt: Date;
}

const ENDPOINT_COLUMNS = [
  'id',
  'org_id',
  'url',
  'description',
  'events',
  'enabled',
  'disabled_reason',
  'failing_since',
  'created_at',
  'updated_at',
] as const;

function toEndpoint(r: {
  id: string;
  org_id: string | null;
  url: string;
  description: string;
  events: unknown;
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
}): Endpoint {
  return {
    id: r.id,
    orgId: r.org_id,
    url: r.url,
    description: r.description,
    events: (typeof r.events === 'string' ? JSON.parse(r.events) : r.events) as string[],
    enabled: r.enabled,
    disabledReason: r.disabled_reason,
    failingSince: r.failing_since,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The filter that keeps a query to one owner's endpoints. */
function ownedBy(owner: Owner) {
  return (eb: ExpressionBuilder<Database, 'webhook_endpoints'>) =>
    owner === null ? eb('org_id', 'is', null) : eb('org_id', '=', owner);
}

export async function listEndpoints(db: Executor, owner: Owner): Promise<Endpoint[]> {
  const rows = await db
    .selectFrom('webhook_endpoints')
    .select(ENDPOINT_COLUMNS)
    .where(ownedBy(owner))
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(toEndpoint);
}

export async function findEndpoint(db: Executor, owner: Owner, id: string): Promise<Endpoint | null> {
  const row = await db
    .selectFrom('webhook_endpoints')
    .select(ENDPOINT_COLUMNS)
    .where('id', '=', id)
    .where(ownedBy(owner))
    .executeTakeFirst();
  return row ? toEndpoint(row) : null;
}

export async function countEndpoints(db: Executor, owner: Owner): Promise<number> {
  const row = await db
    .selectFrom('webhook_endpoints')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where(ownedBy(owner))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface NewEndpoint {
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  sealedSecret: string;
}

export async function insertEndpoint(
  db: Executor,
  owner: Owner,
  e: NewEndpoint,
  now: Date,
): Promise<Endpoint> {
  const row = await db
    .insertInto('webhook_endpoints')
    .values({
      id: randomUUID(),
      org_id: owner,
      url: e.url,
      description: e.description,
      events: JSON.stringify(e.events),
      enabled: e.enabled,
      secret: e.sealedSecret,
      created_at: now,
      updated_at: now,
    })
    .returning(ENDPOINT_COLUMNS)
    .executeTakeFirstOrThrow();
  return toEndpoint(row);
}

export interface EndpointChange {
  url?: string;
  description?: string;
  events?: string[];
  enabled?: boolean;
  sealedSecret?: string;
}

/** Applies a change; enabling an endpoint clears its failure record. Null when it is not the owner's. */
export async function updateEndpoint(
  db: Executor,
  owner: Owner,
  id: string,
  c: EndpointChange,
  now: Date,
): Promise<Endpoint | null> {
  const row = await db
    .updateTable('webhook_endpoints')
    .set({
      ...(c.url !== undefined ? { url: c.url } : {}),
      ...(c.description !== undefined ? { description: c.description } : {}),
      ...(c.events !== undefined ? { events: JSON.stringify(c.events) } : {}),
      ...(c.sealedSecret !== undefined ? { secret: c.sealedSecret } : {}),
      ...(c.enabled !== undefined ? { enabled: c.enabled } : {}),
      ...(c.enabled === true ? { disabled_reason: null, failing_since: null } : {}),
      updated_at: now,
    })
    .where('id', '=', id)
    .where(ownedBy(owner))
    .returning(ENDPOINT_COLUMNS)
    .executeTakeFirst();
  return row ? toEndpoint(row) : null;
}

export async function deleteEndpoint(db: Executor, owner: Owner, id: string): Promise<boolean> {
  const row = await db
    .deleteFrom('webhook_endpoints')
    .where('id', '=', id)
    .where(ownedBy(owner))
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Pending deliveries of a disabled endpoint will not be sent: they fail, saying why. */
export async function failPending(db: Executor, endpointId: string, error: string): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({ status: 'failed', next_attempt_at: null, lease_until: null, error })
    .where('endpoint_id', '=', endpointId)
    .where('status', '=', 'pending')
    .execute();
}

const DELIVERY_COLUMNS = [
  'id',
  'endpoint_id',
  'event_id',
  'event_type',
  'status',
  'attempts',
  'next_attempt_at',
  'last_attempt_at',
  'response_status',
  'error',
  'created_at',
] as const;

function toDelivery(r: {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: Delivery['status'];
  attempts: number;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
  response_status: number | null;
  error: string | null;
  created_at: Date;
}): Delivery {
  return {
    id: r.id,
    endpointId: r.endpoint_id,
    eventId: r.event_id,
    eventType: r.event_type,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastAttemptAt: r.last_attempt_at,
    responseStatus: r.response_status,
    error: r.error,
    createdAt: r.created_at,
  };
}

/** One endpoint's deliveries, newest first, after the keyset cursor; `limit + 1` rows. */
export async function listDeliveries(
  db: Executor,
  endpointId: string,
  limit: number,
  after: { at: Date; id: string } | null,
): Promise<Delivery[]> {
  let q = db.selectFrom('webhook_deliveries').select(DELIVERY_COLUMNS).where('endpoint_id', '=', endpointId);
  if (after)
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '<', after.at),
        eb.and([eb('created_at', '=', after.at), eb('id', '<', after.id)]),
      ]),
    );
  const rows = await q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  return rows.map(toDelivery);
}

/** A new pending delivery of an earlier delivery's event (same payload and message id), due now. */
export async function resendDelivery(
  db: Executor,
  endpointId: string,
  deliveryId: string,
  now: Date,
): Promise<Delivery | null> {
  const src = await db
    .selectFrom('webhook_deliveries')
    .select(['event_id', 'event_type', 'payload'])
    .where('id', '=', deliveryId)
    .where('endpoint_id', '=', endpointId)
    .executeTakeFirst();
  if (!src) return null;
  const row = await db
    .insertInto('webhook_deliveries')
    .values({
      id: randomUUID(),
      endpoint_id: endpointId,
      event_id: src.event_id,
      event_type: src.event_type,
      payload: src.payload,
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      created_at: now,
    })
    .returning(DELIVERY_COLUMNS)
    .executeTakeFirstOrThrow();
  return toDelivery(row);
}
