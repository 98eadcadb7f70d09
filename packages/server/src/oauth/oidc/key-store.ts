import {
  createLocalJWKSet,
  importJWK,
  type JWK,
  type JWTPayload,
  type JWTVerifyOptions,
  jwtVerify,
  SignJWT,
} from 'jose';
import type { Cache } from '../../cache/index.js';
import type { Config } from '../../config/index.js';
import type { Db } from '../../db/connection.js';
import type { Clock } from '../../lib/clock.js';
import {
  activeAlgs,
  CLOCK_SKEW_MS,
  currentPrivateKey,
  ensureCurrentKey,
  publishedKeys,
  type RotationResult,
  rotateKey,
  type SigningAlg,
} from './keys.js';

/** The pub/sub channel on which a node announces that the key set changed. */
export const KEYS_CHANNEL = 'latchkey:signing-keys';
/** How long a node trusts its copy of the key set without hearing of a change. */
export const KEY_CACHE_MS = 30_000;

export interface KeyStore {
  /** Signs `payload` with the current key of `alg` (its `kid` in the header). */
  sign(payload: JWTPayload, o: { alg: SigningAlg; typ: string }): Promise<string>;
  /** The published public keys (next, current, retired in grace), as a JWK Set. */
  jwks(): Promise<{ keys: JWK[] }>;
  /**
   * Verifies a JWT signed by one of this instance's published keys; an unknown `kid` refetches the
   * set once (a key another node has just created). Throws jose's errors.
   */
  verify(jwt: string, o: JWTVerifyOptions): Promise<{ payload: JWTPayload; kid: string | undefined }>;
  /** Rotates every algorithm in use (the configured one at least) and tells every node. */
  rotate(): Promise<RotationResult[]>;
  /** Drops this node's copy and tells the others to drop theirs. */
  announce(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface Signer {
  kid: string;
  key: CryptoKey | Uint8Array;
  at: number;
}

/**
 * A node's view of the signing keys: read from the database, kept for at most KEY_CACHE_MS, and
 * dropped on every node as soon as one announces a change on KEYS_CHANNEL. So all nodes sign with
 * the key the database calls current; during the moment a rotation takes to reach them, a node may
 * still sign with the key just retired, which stays published (and verifiable) for its grace.
 */
export function createKeyStore(deps: {
  db: Db;
  cache: Cache;
  clock: Clock;
  config: Pick<Config, 'secrets' | 'keyRotationDays' | 'signingAlg'>;
}): KeyStore {
  const { db, cache, clock, config } = deps;
  const signers = new Map<SigningAlg, Signer>();
  let published: { keys: JWK[]; at: number } | null = null;
  let generation = 0;
  let unsubscribe: (() => Promise<void>) | null = null;
  const fresh = (at: number) => Date.now() - at < KEY_CACHE_MS;
  const drop = () => {
    generation++;
    signers.clear();
    published = null;
  };

  async function signer(alg: SigningAlg): Promise<Signer> {
    const have = signers.get(alg);
    if (have && fresh(have.at)) return have;
    const gen = generation;
    let row = await currentPrivateKey(db, config, alg);
    if (!row) {
      if (await ensureCurrentKey(db, clock, config, alg)) await announce();
      row = await currentPrivateKey(db, config, alg);
      if (!row) throw new Error(`no current ${alg} signing key`);
    }
    const s = { kid: row.kid, key: await importJWK(row.privateJwk, alg), at: Date.now() };
    if (gen === generation) signers.set(alg, s);
    return s;
  }

  async function jwks(force = false): Promise<{ keys: JWK[] }> {
    if (!force && published && fresh(published.at)) return { keys: published.keys };
    const gen = generation;
    const keys = (await publishedKeys(db, clock)).map((k) => k.publicJwk);
    if (gen === generation) published = { keys, at: Date.now() };
    return { keys };
  }

  async function announce(): Promise<void> {
    drop();
    await cache.publish(KEYS_CHANNEL, String(Date.now()));
  }

  return {
    async sign(payload, o) {
      const s = await signer(o.alg);
      return new SignJWT(payload).setProtectedHeader({ alg: o.alg, kid: s.kid, typ: o.typ }).sign(s.key);
    },
    jwks: () => jwks(),
    async verify(jwt, o) {
      const opts = { clockTolerance: CLOCK_SKEW_MS / 1000, currentDate: clock.now(), ...o };
      try {
        const r = await jwtVerify(jwt, createLocalJWKSet(await jwks()), opts);
        return { payload: r.payload, kid: r.protectedHeader.kid };
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw err;
        const r = await jwtVerify(jwt, createLocalJWKSet(await jwks(true)), opts);
        return { payload: r.payload, kid: r.protectedHeader.kid };
      }
    },
    async rotate() {
      const algs = new Set<SigningAlg>([config.signingAlg, ...(await activeAlgs(db))]);
      const out: RotationResult[] = [];
      for (const alg of algs) {
        const r = await rotateKey(db, clock, config, alg);
        if (r) out.push(r);
      }
      await announce();
      return out;
    },
    announce,
    async start() {
      unsubscribe ??= await cache.subscribe(KEYS_CHANNEL, drop);
    },
    async stop() {
      const off = unsubscribe;
      unsubscribe = null;
      // Closing after the cache is gone (Redis down or closed first) has nothing left to undo.
      await off?.().catch(() => {});
    },
  };
}
