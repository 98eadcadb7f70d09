import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Encryption at rest for the few secrets Latchkey must be able to read back (signing keys, the
 * client secrets of SSO connections): AES-256-GCM under a key derived from `LATCHKEY_SECRET` by
 * HKDF-SHA256.
 *
 * Sealed form: `lk1.<key id>.<base64url(iv ‖ ciphertext ‖ tag)>` — version 1, the id of the key
 * that sealed it (a fingerprint of the secret, never the secret), a random 96-bit IV and the 128-bit
 * GCM tag. The caller names a context (what the value is, e.g. `signing_keys.private_jwk`), bound as
 * additional authenticated data, so a sealed value copied into another column does not open there.
 *
 * A box is built from one or more secrets: the first seals, any of them opens (by key id), so the
 * secret can be rotated by adding the new one first and re-sealing. This module does not read
 * configuration, does not log, and never puts a plaintext or key into an error message.
 */

export const SEALED_PREFIX = 'lk1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export type SecretBoxErrorCode = 'unknown_key' | 'malformed' | 'tampered';

export class SecretBoxError extends Error {
  constructor(readonly code: SecretBoxErrorCode) {
    super(
      code === 'unknown_key'
        ? 'the value was sealed under a secret this server does not hold (LATCHKEY_SECRET changed?)'
        : code === 'malformed'
          ? 'the value is not a sealed secret'
          : 'the sealed value does not open with this context (tampered or misplaced)',
    );
    this.name = 'SecretBoxError';
  }
}

export interface SecretBox {
  /** The id of the key that seals (a fingerprint of the first secret). */
  readonly keyId: string;
  seal(plaintext: string, context: string): string;
  /** Opens a sealed value; throws SecretBoxError when it cannot. */
  open(sealed: string, context: string): string;
}

/** Whether a stored value has the sealed form (it may still fail to open). */
export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX);
}

interface Key {
  id: string;
  key: Buffer;
}

function deriveKey(secret: string): Key {
  const key = Buffer.from(hkdfSync('sha256', secret, 'latchkey', 'latchkey secret-box v1', 32));
  const id = createHash('sha256')
    .update('latchkey secret-box key id')
    .update(key)
    .digest('base64url')
    .slice(0, 8);
  return { id, key };
}

/** A box over `secrets` (the first seals). Throws when none is given. */
export function createSecretBox(secrets: readonly string[]): SecretBox {
  if (secrets.length === 0) throw new Error('a secret box needs at least one secret');
  const keys = secrets.map(deriveKey);
  const current = keys[0]!;
  const byId = new Map(keys.map((k) => [k.id, k]));
  return Object.freeze({
    keyId: current.id,
    seal(plaintext: string, context: string): string {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${SEALED_PREFIX}${current.id}.${Buffer.concat([iv, body]).toString('base64url')}`;
    },
    open(sealed: string, context: string): string {
      const m = /^lk1\.([A-Za-z0-9_-]{8})\.([A-Za-z0-9_-]+)$/.exec(sealed);
      if (!m) throw new SecretBoxError('malformed');
      const k = byId.get(m[1]!);
      if (!k) throw new SecretBoxError('unknown_key');
      const raw = Buffer.from(m[2]!, 'base64url');
      if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError('malformed');
      const decipher = createDecipheriv('aes-256-gcm', k.key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      try {
        return Buffer.concat([
          decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw new SecretBoxError('tampered');
      }
    },
  });
}

const BOXES = new WeakMap<object, SecretBox>();

/** The box for a configuration's secrets, built once per configuration object. */
export function secretBoxOf(config: { readonly secrets: readonly string[] }): SecretBox {
  let box = BOXES.get(config);
  if (!box) {
    box = createSecretBox(config.secrets);
    BOXES.set(config, box);
  }
  return box;
}
