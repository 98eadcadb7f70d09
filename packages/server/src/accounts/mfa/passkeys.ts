/**
 * Passkeys (WebAuthn Level 3, through @simplewebauthn/server): registration, and assertions for
 * three uses — a passwordless first factor (discoverable credentials), a second factor after a
 * first one, and step-up. The relying party is the instance: RP ID = the host of PUBLIC_URL, the
 * only accepted origin = its origin.
 *
 * Every ceremony's challenge is random, lives 5 minutes in the cache, and is consumed once
 * (get-and-delete) together with what it was issued for: the purpose, and for an account's
 * ceremonies the account and session. An assertion answering a challenge issued to another
 * account, session or purpose is refused, and so is a credential of another account.
 *
 * Does not check: whether the caller may act on the account (routes do), step-up (routes do).
 */
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { Deps } from '../../deps.js';
import { MINUTE } from '../../lib/clock.js';
import { loadOnce } from '../../lib/load-once.js';
import { newId, sha256Hex } from '../../lib/secrets.js';

/**
 * @simplewebauthn/server and what it loads (CBOR, COSE, X.509 and ASN.1 parsers) are loaded on the
 * first passkey ceremony, not at start: most instances never see one, and loaded they hold some
 * 4 MB of heap and compiled code in every server process.
 */
const webauthn = loadOnce(async () => {
  const [server, helpers] = await Promise.all([
    import('@simplewebauthn/server'),
    import('@simplewebauthn/server/helpers'),
  ]);
  return { ...server, isoBase64URL: helpers.isoBase64URL };
});

export type PasskeyPurpose = 'register' | 'signin' | 'second_factor' | 'step_up';
/** The account and session a challenge was issued to (none for a passwordless sign-in). */
export interface Binding {
  userId: string | null;
  sessionId: string | null;
}

export const PASSKEY_CHALLENGE_TTL_MS = 5 * MINUTE;
export const PASSKEYS_PER_ACCOUNT_MAX = 20;
export const PASSKEY_NAME_MAX = 100;
const TIMEOUT_MS = 2 * MINUTE;

type PasskeyDeps = Pick<Deps, 'db' | 'clock' | 'cache' | 'config'>;

function rp(config: Deps['config']) {
  const url = new URL(config.publicUrl);
  return { id: url.hostname, origin: config.publicOrigin, name: 'Latchkey' };
}

const challengeKey = (challenge: string) => `webauthn:challenge:${sha256Hex(challenge)}`;

async function remember(deps: PasskeyDeps, challenge: string, purpose: PasskeyPurpose, b: Binding) {
  await deps.cache.set(challengeKey(challenge), JSON.stringify({ purpose, ...b }), PASSKEY_CHALLENGE_TTL_MS);
}

/**
 * The challenge a response answers, consumed: returns it when it was issued for `purpose` and
 * `binding`, else null (unknown, expired, used, or issued for something else — consumed either way).
 */
async function consumeChallenge(
  deps: PasskeyDeps,
  clientDataJSON: unknown,
  purpose: PasskeyPurpose,
  binding: Binding,
): Promise<string | null> {
  if (typeof clientDataJSON !== 'string' || clientDataJSON.length > 4096) return null;
  const { isoBase64URL } = await webauthn();
  let challenge: unknown;
  try {
    challenge = (JSON.parse(isoBase64URL.toUTF8String(clientDataJSON)) as { challenge?: unknown }).challenge;
  } catch {
    return null;
  }
  if (typeof challenge !== 'string' || challenge.length > 200) return null;
  const raw = await deps.cache.getDel(challengeKey(challenge));
  if (!raw) return null;
  const issued = JSON.parse(raw) as { purpose: PasskeyPurpose } & Binding;
  if (
    issued.purpose !== purpose ||
    issued.userId !== binding.userId ||
    issued.sessionId !== binding.sessionId
  )
    return null;
  return challenge;
}

/** The account's user handle: its id's 16 bytes, so a new passkey for it replaces an old one on the same authenticator. */
function userHandle(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(userId.replace(/-/g, ''), 'hex'));
}

const transportsOf = (s: string) => (s ? s.split(',') : []) as AuthenticatorTransportLike[];
type AuthenticatorTransportLike = 'ble' | 'cable' | 'hybrid' | 'internal' | 'nfc' | 'smart-card' | 'usb';

export async function passkeyRegistrationOptions(
  deps: PasskeyDeps,
  u: { id: string; email: string; name: string; sessionId: string },
) {
  const existing = await deps.db
    .selectFrom('passkeys')
    .select(['credential_id', 'transports'])
    .where('user_id', '=', u.id)
    .execute();
  if (existing.length >= PASSKEYS_PER_ACCOUNT_MAX) return null;
  const r = rp(deps.config);
  const { generateRegistrationOptions } = await webauthn();
  const options = await generateRegistrationOptions({
    rpName: r.name,
    rpID: r.id,
    userName: u.email,
    userDisplayName: u.name,
    userID: userHandle(u.id),
    timeout: TIMEOUT_MS,
    attestationType: 'none',
    excludeCredentials: existing.map((p) => ({
      id: p.credential_id,
      transports: transportsOf(p.transports),
    })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  });
  await remember(deps, options.challenge, 'register', { userId: u.id, sessionId: u.sessionId });
  return options;
}

/** Verifies a registration response and stores the passkey; null when it does not verify. */
export async function registerPasskey(
  deps: PasskeyDeps,
  u: { id: string; sessionId: string },
  c: { name: string; response: RegistrationResponseJSON },
) {
  const challenge = await consumeChallenge(deps, c.response?.response?.clientDataJSON, 'register', {
    userId: u.id,
    sessionId: u.sessionId,
  });
  if (!challenge) return null;
  const r = rp(deps.config);
  const { verifyRegistrationResponse, isoBase64URL } = await webauthn();
  let out: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    out = await verifyRegistrationResponse({
      response: c.response,
      expectedChallenge: challenge,
      expectedOrigin: r.origin,
      expectedRPID: r.id,
      requireUserVerification: true,
    });
  } catch {
    return null;
  }
  if (!out.verified) return null;
  const info = out.registrationInfo;
  const row = {
    id: newId(),
    user_id: u.id,
    credential_id: info.credential.id,
    public_key: isoBase64URL.fromBuffer(info.credential.publicKey),
    counter: info.credential.counter,
    transports: (info.credential.transports ?? []).join(','),
    name: c.name,
    backed_up: info.credentialBackedUp,
    created_at: deps.clock.now(),
    last_used_at: null,
  };
  const inserted = await deps.db
    .insertInto('passkeys')
    .values(row)
    .onConflict((oc) => oc.column('credential_id').doNothing())
    .returning(['id'])
    .executeTakeFirst();
  return inserted ? row : null;
}

export async function passkeyAuthenticationOptions(
  deps: PasskeyDeps,
  purpose: Exclude<PasskeyPurpose, 'register'>,
  b: Binding,
) {
  const allow = b.userId
    ? await deps.db
        .selectFrom('passkeys')
        .select(['credential_id', 'transports'])
        .where('user_id', '=', b.userId)
        .execute()
    : [];
  const { generateAuthenticationOptions } = await webauthn();
  const options = await generateAuthenticationOptions({
    rpID: rp(deps.config).id,
    timeout: TIMEOUT_MS,
    userVerification: purpose === 'signin' ? 'required' : 'preferred',
    // Passwordless: any discoverable credential of this RP; otherwise only the account's own.
    ...(b.userId
      ? {
          allowCredentials: allow.map((p) => ({
            id: p.credential_id,
            transports: transportsOf(p.transports),
          })),
        }
      : {}),
  });
  await remember(deps, options.challenge, purpose, b);
  return options;
}

/**
 * Verifies an assertion for `purpose`. With a bound account, the credential must be one of its
 * passkeys. Returns the passkey's account and id, or null. Updates the signature counter and last use.
 */
export async function verifyPasskeyAssertion(
  deps: PasskeyDeps,
  purpose: Exclude<PasskeyPurpose, 'register'>,
  b: Binding,
  response: AuthenticationResponseJSON,
): Promise<{ userId: string; passkeyId: string } | null> {
  const challenge = await consumeChallenge(deps, response?.response?.clientDataJSON, purpose, b);
  if (!challenge || typeof response.id !== 'string' || response.id.length > 1024) return null;
  const key = await deps.db
    .selectFrom('passkeys')
    .select(['id', 'user_id', 'credential_id', 'public_key', 'counter', 'transports'])
    .where('credential_id', '=', response.id)
    .executeTakeFirst();
  if (!key) return null;
  if (b.userId !== null && key.user_id !== b.userId) return null;
  const { verifyAuthenticationResponse, isoBase64URL } = await webauthn();
  // A discoverable credential names its account: it must be the passkey's.
  const handle = response.response.userHandle;
  if (handle !== undefined && handle !== isoBase64URL.fromBuffer(userHandle(key.user_id))) return null;
  const r = rp(deps.config);
  let out: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    out = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: r.origin,
      expectedRPID: r.id,
      requireUserVerification: purpose === 'signin',
      credential: {
        id: key.credential_id,
        publicKey: isoBase64URL.toBuffer(key.public_key),
        counter: Number(key.counter),
        transports: transportsOf(key.transports),
      },
    });
  } catch {
    return null;
  }
  if (!out.verified) return null;
  await deps.db
    .updateTable('passkeys')
    .set({ counter: out.authenticationInfo.newCounter, last_used_at: deps.clock.now() })
    .where('id', '=', key.id)
    .execute();
  return { userId: key.user_id, passkeyId: key.id };
}

export async function listPasskeys(deps: Pick<Deps, 'db'>, userId: string) {
  return deps.db
    .selectFrom('passkeys')
    .select(['id', 'name', 'created_at', 'last_used_at', 'backed_up'])
    .where('user_id', '=', userId)
    .orderBy('created_at', 'asc')
    .execute();
}
