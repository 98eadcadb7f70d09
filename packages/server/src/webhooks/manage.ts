import type { Actor } from '../auth/principal.js';
import { audit } from '../audit/log.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/connection.js';
import { ApiError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import { checkOutboundUrl, OutboundFetchError } from '../lib/outbound-fetch.js';
import { secretBoxOf } from '../lib/secret-box.js';
import { unknownEventPatterns } from './events.js';
import {
  countEndpoints,
  deleteEndpoint,
  type Endpoint,
  failPending,
  insertEndpoint,
  type Owner,
  updateEndpoint,
} from './queries.js';
import { newSigningSecret, sealSigningSecret } from './signing.js';

/** Limits of what an owner may register. */
export const ENDPOINT_LIMITS = {
  perOwner: 20,
  urlLength: 2000,
  events: 100,
} as const;

export interface ManageDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly config: Pick<Config, 'webhooks' | 'secrets'>;
}

export interface EndpointInput {
  url?: string;
  description?: string;
  events?: string[];
  enabled?: boolean;
}

/** A receiver URL: https to a host that may be public (plain http to loopback only when testing). */
function checkUrl(config: ManageDeps['config'], url: string): string {
  if (url.length > ENDPOINT_LIMITS.urlLength)
    throw new ApiError('invalid_request', `url must be at most ${ENDPOINT_LIMITS.urlLength} characters.`);
  try {
    const u = checkOutboundUrl(url, config.webhooks.allowLoopback);
    if (u.hash) throw new ApiError('invalid_request', 'url must not have a fragment.');
    return u.href;
  } catch (err) {
    if (!(err instanceof OutboundFetchError)) throw err;
    throw new ApiError(
      'invalid_request',
      err.code === 'forbidden_address'
        ? 'url must point to a public address.'
        : 'url must be an absolute https URL without credentials.',
    );
  }
}

function checkEvents(events: string[]): string[] {
  const unknown = unknownEventPatterns(events);
  if (unknown.length)
    throw new ApiError(
      'invalid_request',
      `events holds unknown event types: ${unknown.slice(0, 5).join(', ')}. Use an event type, a family such as member.*, or *.`,
    );
  return [...new Set(events)];
}

function target(id: string): string {
  return `webhook:${id}`;
}

/** Registers an endpoint; answers it and its signing secret, which is never shown again. */
export async function createEndpoint(
  deps: ManageDeps,
  who: Actor,
  owner: Owner,
  input: Required<Pick<EndpointInput, 'url' | 'events'>> & EndpointInput,
): Promise<{ endpoint: Endpoint; secret: string }> {
  const url = checkUrl(deps.config, input.url);
  const events = checkEvents(input.events);
  const secret = newSigningSecret();
  const now = deps.clock.now();
  const endpoint = await deps.db.transaction().execute(async (trx) => {
    if ((await countEndpoints(trx, owner)) >= ENDPOINT_LIMITS.perOwner)
      throw new ApiError(
        'conflict',
        `At most ${ENDPOINT_LIMITS.perOwner} webhook endpoints may be registered.`,
      );
    const e = await insertEndpoint(
      trx,
      owner,
      {
        url,
        events,
        description: input.description ?? '',
        enabled: input.enabled ?? true,
        sealedSecret: sealSigningSecret(secretBoxOf(deps.config), secret),
      },
      now,
    );
    await audit(trx, deps.clock, who, {
      orgId: owner,
      action: 'webhook.created',
      target: target(e.id),
      data: { events, enabled: e.enabled },
    });
    return e;
  });
  return { endpoint, secret };
}

/** Changes an endpoint; disabling it fails its pending deliveries. Null when it is not the owner's. */
export async function changeEndpoint(
  deps: ManageDeps,
  who: Actor,
  owner: Owner,
  id: string,
  input: EndpointInput,
): Promise<Endpoint | null> {
  const change = {
    ...(input.url !== undefined ? { url: checkUrl(deps.config, input.url) } : {}),
    ...(input.events !== undefined ? { events: checkEvents(input.events) } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
  };
  return deps.db.transaction().execute(async (trx) => {
    const e = await updateEndpoint(trx, owner, id, change, deps.clock.now());
    if (!e) return null;
    if (input.enabled === false) await failPending(trx, id, 'endpoint_disabled');
    await audit(trx, deps.clock, who, {
      orgId: owner,
      action: 'webhook.updated',
      target: target(id),
      data: { changed: Object.keys(change).sort(), enabled: e.enabled },
    });
    return e;
  });
}

/** A new signing secret, answered once; the old one stops signing at once. */
export async function rotateSecret(
  deps: ManageDeps,
  who: Actor,
  owner: Owner,
  id: string,
): Promise<{ endpoint: Endpoint; secret: string } | null> {
  const secret = newSigningSecret();
  const sealedSecret = sealSigningSecret(secretBoxOf(deps.config), secret);
  const endpoint = await deps.db.transaction().execute(async (trx) => {
    const e = await updateEndpoint(trx, owner, id, { sealedSecret }, deps.clock.now());
    if (!e) return null;
    await audit(trx, deps.clock, who, { orgId: owner, action: 'webhook.secret_rotated', target: target(id) });
    return e;
  });
  return endpoint ? { endpoint, secret } : null;
}

export async function removeEndpoint(
  deps: ManageDeps,
  who: Actor,
  owner: Owner,
  id: string,
): Promise<boolean> {
  return deps.db.transaction().execute(async (trx) => {
    if (!(await deleteEndpoint(trx, owner, id))) return false;
    await audit(trx, deps.clock, who, { orgId: owner, action: 'webhook.deleted', target: target(id) });
    return true;
  });
}
