/**
 * WebAuthn from the dashboard: the browser's ceremony around options the server sends, with the
 * JSON encoding the server reads (base64url for every binary field).
 */

function fromB64(s: string): ArrayBuffer {
  let b = s.replace(/-/g, '+').replace(/_/g, '/');
  while (b.length % 4) b += '=';
  return Uint8Array.from(atob(b), (c) => c.charCodeAt(0)).buffer;
}

function toB64(buf: ArrayBuffer): string {
  return btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

type Json = Record<string, unknown>;
type Descriptor = { id: string; type: string; transports?: string[] };

export function passkeysSupported(): boolean {
  return typeof window !== 'undefined' && 'PublicKeyCredential' in window;
}

/** Creates a passkey for registration options; returns the response to post back. */
export async function createPasskey(o: Json): Promise<Json> {
  const user = o.user as { id: string; name: string; displayName: string };
  const cred = (await navigator.credentials.create({
    publicKey: {
      ...(o as unknown as PublicKeyCredentialCreationOptions),
      challenge: fromB64(o.challenge as string),
      user: { ...user, id: fromB64(user.id) },
      excludeCredentials: ((o.excludeCredentials as Descriptor[] | undefined) ?? []).map((c) => ({
        ...c,
        id: fromB64(c.id),
      })) as PublicKeyCredentialDescriptor[],
    },
  })) as PublicKeyCredential | null;
  if (!cred) throw new Error('No passkey was created.');
  const r = cred.response as AuthenticatorAttestationResponse;
  return {
    id: cred.id,
    rawId: toB64(cred.rawId),
    type: cred.type,
    clientExtensionResults: cred.getClientExtensionResults(),
    response: {
      clientDataJSON: toB64(r.clientDataJSON),
      attestationObject: toB64(r.attestationObject),
      transports: r.getTransports?.() ?? [],
    },
  };
}

/** Asks for an assertion for authentication options; returns the response to post back. */
export async function assertPasskey(o: Json): Promise<Json> {
  const cred = (await navigator.credentials.get({
    publicKey: {
      ...(o as unknown as PublicKeyCredentialRequestOptions),
      challenge: fromB64(o.challenge as string),
      allowCredentials: ((o.allowCredentials as Descriptor[] | undefined) ?? []).map((c) => ({
        ...c,
        id: fromB64(c.id),
      })) as PublicKeyCredentialDescriptor[],
    },
  })) as PublicKeyCredential | null;
  if (!cred) throw new Error('No passkey was used.');
  const r = cred.response as AuthenticatorAssertionResponse;
  return {
    id: cred.id,
    rawId: toB64(cred.rawId),
    type: cred.type,
    clientExtensionResults: cred.getClientExtensionResults(),
    response: {
      clientDataJSON: toB64(r.clientDataJSON),
      authenticatorData: toB64(r.authenticatorData),
      signature: toB64(r.signature),
      ...(r.userHandle ? { userHandle: toB64(r.userHandle) } : {}),
    },
  };
}

/** A browser refusal in words ("the prompt was closed"), else the error's own message. */
export function passkeyError(err: unknown): Error {
  if (err instanceof DOMException && err.name === 'NotAllowedError')
    return new Error('The passkey prompt was closed or timed out. Try again.');
  if (err instanceof DOMException && err.name === 'InvalidStateError')
    return new Error('This authenticator already holds a passkey for your account.');
  return err instanceof Error ? err : new Error(String(err));
}
