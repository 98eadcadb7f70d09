import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { isUniqueViolation } from '../../db/errors.js';
import type { Config } from '../../config/index.js';
import type { Db } from '../../db/connection.js';
import { addMs, type Clock, DAY, HOUR, MINUTE } from '../../lib/clock.js';
import { secretBoxOf } from '../../lib/secret-box.js';
import type { Executor } from '../../db/executor.js';

/**
 * The instance's signing keys, stored in the database (the one source of truth every node reads).
 *
 * Life of a key: `next` — published in the JWKS ahead of use (24 h before the planned rotation),
 * `current` — signs ID tokens and JWT access tokens (one per algorithm), `retired` — signs
 * nothing, still published until `expires_at` (its retirement plus the longest lifetime of a token
 * it may have signed, plus clock skew), then deleted. Rotation promotes the next key (or a fresh
 * one) and retires the current one in one transaction; the unique indexes on (alg, state) make two
 * nodes rotating at once leave exactly one current key.
 */

export type SigningAlg = 'ES256' | 'RS256';
export const SIGNING_ALGS: readonly SigningAlg[] = ['ES256', 'RS256'];

/** The longest a token signed by these keys lives (ID tokens and JWT access tokens: 1 h). */
export const SIGNED_TOKEN_MAX_TTL_MS = HOUR;
/** Clock skew a verifier may allow. */
export const CLOCK_SKEW_MS = 5 * MINUTE;
/** How long a retired key stays published: until the last token it signed has expired. */
export const RETIRED_KEY_GRACE_MS = SIGNED_TOKEN_MAX_TTL_MS + CLOCK_SKEW_MS;
/** How far ahead of a planned rotation the next key is published. */
export const NEXT_KEY_LEAD_MS = DAY;

/** The secret box context of a sealed private JWK. */
const PRIVATE_JWK_CONTEXT = 'signing_keys.private_jwk';

export interface StoredKey {
  kid: string;
  alg: SigningAlg;
  state: 'next' | 'current' | 'retired';
  publicJwk: JWK;
  createdAt: Date;
  activatedAt: Date | null;
  retiredAt: Date | null;
  expiresAt: Date | null;
}

type KeysConfig = Pick<Config, 'secrets' | 'keyRotationDays' | 'signingAlg'>;

const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

function toStored(r: {
  kid: string;
  alg: SigningAlg;
  state: 'next' | 'current' | 'retired';
  public_jwk: unknown;
  created_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
  expires_at: Date | null;
}): StoredKey {
  return {
    kid: r.kid,
    alg: r.alg,
    state: r.state,
    publicJwk: json<JWK>(r.public_jwk),
    createdAt: r.created_at,
    activatedAt: r.activated_at,
    retiredAt: r.retired_at,
    expiresAt: r.expires_at,
  };
}

const PUBLIC_COLUMNS = [
  'kid',
  'alg',
  'state',
  'public_jwk',
  'created_at',
  'activated_at',
  'retired_at',
  'expires_at',
] as const;

/** Every key a verifier may meet now: next, current, and retired ones still in their grace. */
export async function publishedKeys(db: Executor, clock: Clock): Promise<StoredKey[]> {
  const rows = await db
    .selectFrom('signing_keys')
    .select(PUBLIC_COLUMNS)
    .where((eb) => eb.or([eb('state', '!=', 'retired'), eb('expires_at', '>', clock.now())]))
    .orderBy('created_at', 'desc')
    .execute();
  return rows.map(toStored);
}

/** The current key of `alg` with its private JWK opened, or null when there is none. */
export async function currentPrivateKey(
  db: Executor,
  config: KeysConfig,
  alg: SigningAlg,
): Promise<{ kid: string; alg: SigningAlg; privateJwk: JWK } | null> {
  const row = await db
    .selectFrom('signing_keys')
    .select(['kid', 'alg', 'private_jwk'])
    .where('alg', '=', alg)
    .where('state', '=', 'current')
    .executeTakeFirst();
  if (!row) return null;
  const privateJwk = JSON.parse(secretBoxOf(config).open(row.private_jwk, PRIVATE_JWK_CONTEXT)) as JWK;
  return { kid: row.kid, alg: row.alg, privateJwk };
}

async function newKeyRow(config: KeysConfig, alg: SigningAlg, state: 'next' | 'current', now: Date) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const pub = await exportJWK(publicKey);
  const priv = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(pub);
  const publicJwk = { ...pub, kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    state,
    public_jwk: JSON.stringify(publicJwk),
    private_jwk: secretBoxOf(config).seal(JSON.stringify({ ...priv, kid, alg }), PRIVATE_JWK_CONTEXT),
    created_at: now,
    activated_at: state === 'current' ? now : null,
    retired_at: null,
    expires_at: null,
  };
}

/**
 * Makes sure `alg` has a current key (creating one when it has none). Two nodes doing it at once
 * leave one: the loser's insert breaks the unique index and it reads the winner's. Returns true
 * when this call created it.
 */
export async function ensureCurrentKey(
  db: Db,
  clock: Clock,
  config: KeysConfig,
  alg: SigningAlg,
): Promise<boolean> {
  const has = await db
    .selectFrom('signing_keys')
    .select('kid')
    .where('alg', '=', alg)
    .where('state', '=', 'current')
    .executeTakeFirst();
  if (has) return false;
  const row = await newKeyRow(config, alg, 'current', clock.now());
  try {
    await db.insertInto('signing_keys').values(row).execute();
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

export interface RotationResult {
  alg: SigningAlg;
  /** The key that signs from now on. */
  current: string;
  /** The key that stopped signing, published until `retiredUntil`. */
  retired: string | null;
  retiredUntil: Date | null;
}

/**
 * Rotates `alg` now: the next key (or a new one) becomes current, the current one is retired and
 * stays published for RETIRED_KEY_GRACE_MS. Serialised by a row lock on the current key.
 *
 * `onlyIfCurrent` (the periodic tick): rotate only while that key is still the current one, and
 * return null otherwise — another node's tick has just rotated it, and rotating again would retire
 * the key published a day ahead at once for one nobody has seen.
 */
export async function rotateKey(
  db: Db,
  clock: Clock,
  config: KeysConfig,
  alg: SigningAlg,
  onlyIfCurrent?: string,
): Promise<RotationResult | null> {
  // Generated outside the transaction (RSA takes a moment); unused when a next key exists.
  const fresh = await newKeyRow(config, alg, 'current', clock.now());
  return db.transaction().execute(async (trx) => {
    const now = clock.now();
    const current = await trx
      .selectFrom('signing_keys')
      .select('kid')
      .where('alg', '=', alg)
      .where('state', '=', 'current')
      .forUpdate()
      .executeTakeFirst();
    if (onlyIfCurrent !== undefined && current?.kid !== onlyIfCurrent) return null;
    const until = addMs(now, RETIRED_KEY_GRACE_MS);
    if (current) {
      await trx
        .updateTable('signing_keys')
        .set({ state: 'retired', retired_at: now, expires_at: until })
        .where('kid', '=', current.kid)
        .execute();
    }
    const next = await trx
      .selectFrom('signing_keys')
      .select('kid')
      .where('alg', '=', alg)
      .where('state', '=', 'next')
      .forUpdate()
      .executeTakeFirst();
    let kid: string;
    if (next) {
      await trx
        .updateTable('signing_keys')
        .set({ state: 'current', activated_at: now })
        .where('kid', '=', next.kid)
        .execute();
      kid = next.kid;
    } else {
      await trx
        .insertInto('signing_keys')
        .values({ ...fresh, created_at: now, activated_at: now })
        .execute();
      kid = fresh.kid;
    }
    return {
      alg,
      current: kid,
      retired: current?.kid ?? null,
      retiredUntil: current ? until : null,
    };
  });
}

export interface KeyTickResult {
  created: string[];
  published: string[];
  rotated: RotationResult[];
  deleted: number;
}

/**
 * The periodic key work, safe on every node at once: the configured algorithm gets a current key;
 * a current key within NEXT_KEY_LEAD_MS of its rotation date gets a next key published; a current
 * key past `keyRotationDays` is rotated; retired keys past their grace are deleted.
 */
export async function tickKeys(db: Db, clock: Clock, config: KeysConfig): Promise<KeyTickResult> {
  const out: KeyTickResult = { created: [], published: [], rotated: [], deleted: 0 };
  if (await ensureCurrentKey(db, clock, config, config.signingAlg)) out.created.push(config.signingAlg);
  const rotationMs = config.keyRotationDays * DAY;
  const keys = await db
    .selectFrom('signing_keys')
    .select(['kid', 'alg', 'state', 'activated_at'])
    .where('state', 'in', ['current', 'next'])
    .execute();
  for (const cur of keys.filter((k) => k.state === 'current')) {
    const age = clock.now().getTime() - (cur.activated_at ?? clock.now()).getTime();
    const hasNext = keys.some((k) => k.alg === cur.alg && k.state === 'next');
    if (age >= rotationMs) {
      const rotated = await rotateKey(db, clock, config, cur.alg, cur.kid);
      if (rotated) out.rotated.push(rotated);
    } else if (age >= rotationMs - NEXT_KEY_LEAD_MS && !hasNext) {
      try {
        const row = await newKeyRow(config, cur.alg, 'next', clock.now());
        await db.insertInto('signing_keys').values(row).execute();
        out.published.push(row.kid);
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
    }
  }
  const deleted = await db
    .deleteFrom('signing_keys')
    .where('state', '=', 'retired')
    .where('expires_at', '<=', clock.now())
    .executeTakeFirst();
  out.deleted = Number(deleted.numDeletedRows);
  return out;
}

/** Every algorithm that has a current key (a rotation rotates each). */
export async function activeAlgs(db: Executor): Promise<SigningAlg[]> {
  const rows = await db.selectFrom('signing_keys').select('alg').where('state', '=', 'current').execute();
  return rows.map((r) => r.alg);
}
