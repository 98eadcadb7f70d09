import { randomBytes } from 'node:crypto';
import { type Kysely, type Selectable, sql } from 'kysely';
import { isUniqueViolation } from '../../db/errors.js';
import type { Config } from '../../config/index.js';
import type { ClientAuthMethod, OAuthClientKind, OAuthClientsTable } from '../../db/schema/oauth.js';
import type { Database } from '../../db/schema.js';
import type { AuthCache } from '../../auth/credential-cache.js';
import type { Cursor } from '../../http/pagination.js';
import { addMs, type Clock } from '../../lib/clock.js';
import { newSecret, safeEqual, sha256Hex } from '../../lib/secrets.js';
import type { Catalogue } from '../../tokens/catalogue.js';
import { type ClientMetadata, type GrantType, parseClientMetadata } from '../client-metadata.js';
import { OAuthError } from '../errors.js';
import type { Executor } from '../../db/executor.js';

/** A client as the OAuth endpoints see it, whichever way it came to exist. */
export interface Client {
  readonly id: string;
  readonly kind: OAuthClientKind;
  readonly orgId: string | null;
  readonly name: string;
  readonly redirectUris: readonly string[];
  readonly authMethod: ClientAuthMethod;
  readonly secretHash: string | null;
  readonly grantTypes: readonly GrantType[];
  readonly scopes: readonly string[] | null;
  readonly display: Record<string, string>;
  readonly createdAt: Date;
  /**
   * The version of the stored row this was read from (PostgreSQL's `xmin`: every update of the
   * row writes a new one); null when not read from the table. A statement that must act only on
   * the client as it is now compares it (`issueTokens` in `oauth/store/tokens.ts`).
   */
  readonly version: string | null;
}

const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

function selectClient(db: Executor, id: string) {
  return db
    .selectFrom('oauth_clients')
    .selectAll()
    .select(sql<string>`xmin::text`.as('row_version'))
    .where('id', '=', id)
    .executeTakeFirst();
}

export function toClient(row: Selectable<OAuthClientsTable> & { row_version?: string }): Client {
  return {
    id: row.id,
    kind: row.kind,
    orgId: row.org_id,
    name: row.name,
    redirectUris: json<string[]>(row.redirect_uris),
    authMethod: row.auth_method,
    secretHash: row.secret_hash,
    grantTypes: json<GrantType[]>(row.grant_types),
    scopes: row.scopes === null ? null : json<string[]>(row.scopes),
    display: json<Record<string, string>>(row.metadata),
    createdAt: row.created_at,
    version: row.row_version ?? null,
  };
}

/** `lkc_` + 128 random bits: the id of a registered client or an org's app. */
export function newClientId(): string {
  return `lkc_${randomBytes(16).toString('hex')}`;
}

/** A new client secret: plaintext (shown once) and the hash that is kept. */
export function newClientSecret(): { secret: string; hash: string } {
  const secret = newSecret(32);
  return { secret, hash: sha256Hex(secret) };
}

export function secretMatches(client: Client, presented: string): boolean {
  return (
    client.secretHash !== null &&
    presented.length <= 200 &&
    safeEqual(sha256Hex(presented), client.secretHash)
  );
}

export async function insertClient(
  db: Executor,
  clock: Clock,
  c: {
    id: string;
    kind: OAuthClientKind;
    orgId: string | null;
    meta: ClientMetadata;
    secretHash: string | null;
    createdBy: string;
    fetchedUntil?: Date | null;
  },
): Promise<Client> {
  const now = clock.now();
  const row = {
    id: c.id,
    kind: c.kind,
    org_id: c.orgId,
    name: c.meta.name,
    redirect_uris: JSON.stringify(c.meta.redirectUris),
    auth_method: c.meta.authMethod,
    secret_hash: c.secretHash,
    grant_types: JSON.stringify(c.meta.grantTypes),
    scopes: c.meta.scopes ? JSON.stringify(c.meta.scopes) : null,
    metadata: JSON.stringify(c.meta.display),
    created_by: c.createdBy,
    created_at: now,
    updated_at: now,
    fetched_until: c.fetchedUntil ?? null,
  };
  await db.insertInto('oauth_clients').values(row).execute();
  return {
    id: c.id,
    kind: c.kind,
    orgId: c.orgId,
    name: c.meta.name,
    redirectUris: c.meta.redirectUris,
    authMethod: c.meta.authMethod,
    secretHash: c.secretHash,
    grantTypes: c.meta.grantTypes,
    scopes: c.meta.scopes,
    display: c.meta.display as Record<string, string>,
    createdAt: now,
    version: null,
  };
}

/** Whether a client_id names a Client ID Metadata Document (an https URL, or loopback http when allowed). */
export function isMetadataUrl(clientId: string, config: Pick<Config, 'cimdAllowLoopback'>): boolean {
  return clientId.startsWith('https://') || (config.cimdAllowLoopback && clientId.startsWith('http://'));
}

export interface ClientDeps {
  db: Kysely<Database>;
  clock: Clock;
  config: Config;
  catalogue: Catalogue;
  auth: AuthCache;
}

/**
 * The client a `client_id` names, or null. A URL client_id is resolved through its metadata
 * document: fetched when `fresh` and the stored copy has expired (its HTTP caching headers), then
 * validated (`client_id` inside must equal the URL) and stored. Fetch failures are `invalid_client`.
 */
export async function findClient(
  deps: ClientDeps,
  clientId: string,
  opts: { fresh: boolean },
): Promise<Client | null> {
  if (clientId.length === 0 || clientId.length > 2000) return null;
  if (!isMetadataUrl(clientId, deps.config)) {
    // Registered clients and apps change rarely: this node's cache, dropped everywhere on change.
    const cached = deps.auth.client<Client>(clientId);
    if (cached) return cached;
    const generation = deps.auth.generation();
    const row = await selectClient(deps.db, clientId);
    if (!row) return null;
    const client = toClient(row);
    deps.auth.putClient(clientId, client, generation);
    return client;
  }
  const row = await selectClient(deps.db, clientId);
  if (row && (!opts.fresh || (row.fetched_until && row.fetched_until > deps.clock.now())))
    return toClient(row);
  if (!opts.fresh) return null;
  return refreshMetadataClient(deps, clientId, row !== undefined);
}

async function refreshMetadataClient(deps: ClientDeps, url: string, exists: boolean): Promise<Client> {
  // Loaded on first use: most deployments never see a metadata-document client.
  const { fetchClientMetadata, MetadataFetchError } = await import('../metadata-fetch.js');
  let fetched: Awaited<ReturnType<typeof fetchClientMetadata>>;
  try {
    const { outboundPolicy } = await import('../../lib/outbound-fetch.js');
    fetched = await fetchClientMetadata(url, outboundPolicy(deps.config, deps.config.cimdAllowLoopback));
  } catch (err) {
    if (err instanceof MetadataFetchError) {
      throw new OAuthError('invalid_client', `The client metadata document could not be used (${err.code}).`);
    }
    throw err;
  }
  const doc = fetched.document as Record<string, unknown>;
  if (doc.client_id !== url) {
    throw new OAuthError('invalid_client', 'The client metadata document names a different client_id.');
  }
  let meta: ClientMetadata;
  try {
    meta = parseClientMetadata(doc, 'cimd', deps.catalogue);
  } catch (err) {
    if (err instanceof OAuthError)
      throw new OAuthError('invalid_client', `The client metadata document is not valid: ${err.description}`);
    throw err;
  }
  const now = deps.clock.now();
  const fetchedUntil = addMs(now, fetched.cacheMs);
  if (!exists) {
    try {
      return await insertClient(deps.db, deps.clock, {
        id: url,
        kind: 'cimd',
        orgId: null,
        meta,
        secretHash: null,
        createdBy: 'cimd',
        fetchedUntil,
      });
    } catch (err) {
      // Another request stored it a moment ago: fall through and update.
      if (!isUniqueViolation(err)) throw err;
    }
  }
  await deps.db
    .updateTable('oauth_clients')
    .set({
      name: meta.name,
      redirect_uris: JSON.stringify(meta.redirectUris),
      grant_types: JSON.stringify(meta.grantTypes),
      scopes: meta.scopes ? JSON.stringify(meta.scopes) : null,
      metadata: JSON.stringify(meta.display),
      updated_at: now,
      fetched_until: fetchedUntil,
    })
    .where('id', '=', url)
    .where('kind', '=', 'cimd')
    .execute();
  await deps.auth.changed({ client: url });
  const row = await selectClient(deps.db, url);
  if (!row) throw new OAuthError('invalid_client', 'The client is unknown.');
  return toClient(row);
}

/** Where the client came from, as the consent page tells it. */
export function clientOrigin(client: Client): string {
  if (client.kind === 'cimd') return `metadata document at ${client.id}`;
  if (client.kind === 'app') return 'an app made by your organisation';
  return 'dynamically registered';
}

// ---- an org's apps (clients of kind 'app'), as the admin API manages them ----------------------

/** One of the org's apps, by its client id. */
export async function findOrgApp(db: Executor, orgId: string, id: string) {
  return db
    .selectFrom('oauth_clients')
    .selectAll()
    .where('id', '=', id)
    .where('org_id', '=', orgId)
    .where('kind', '=', 'app')
    .executeTakeFirst();
}

/** One page of the org's apps, newest first: up to `limit + 1` rows after the cursor. */
export async function orgApps(db: Executor, orgId: string, page: { limit: number; after: Cursor | null }) {
  const { limit, after } = page;
  let q = db.selectFrom('oauth_clients').selectAll().where('org_id', '=', orgId).where('kind', '=', 'app');
  if (after) {
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '<', after.at),
        eb.and([eb('created_at', '=', after.at), eb('id', '<', after.id)]),
      ]),
    );
  }
  return q
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
}

/** Replaces a client's name, redirect URIs, scopes and grant types. */
export async function updateClientMetadata(
  db: Executor,
  id: string,
  meta: ClientMetadata,
  now: Date,
): Promise<void> {
  await db
    .updateTable('oauth_clients')
    .set({
      name: meta.name,
      redirect_uris: JSON.stringify(meta.redirectUris),
      scopes: meta.scopes ? JSON.stringify(meta.scopes) : null,
      grant_types: JSON.stringify(meta.grantTypes),
      updated_at: now,
    })
    .where('id', '=', id)
    .execute();
}

/** Replaces a client's secret (its hash). */
export async function setClientSecret(
  db: Executor,
  id: string,
  secretHash: string,
  now: Date,
): Promise<void> {
  await db
    .updateTable('oauth_clients')
    .set({ secret_hash: secretHash, updated_at: now })
    .where('id', '=', id)
    .execute();
}

/** Deletes a client (its tokens are revoked first by the caller, in the same transaction). */
export async function deleteClient(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('oauth_clients').where('id', '=', id).execute();
}
