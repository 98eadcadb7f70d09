import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { SecretBox } from '../lib/secret-box.js';

/** Where a sealed signing secret lives (bound as the sealing context). */
const SECRET_CONTEXT = 'webhook_endpoints.secret';

/** A new signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes in base64. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export function sealSigningSecret(box: SecretBox, secret: string): string {
  return box.seal(secret, SECRET_CONTEXT);
}

/**
 * The Standard Webhooks headers for one attempt: the message id stays the same across retries and
 * resends of one event (receivers deduplicate on it); the timestamp and signature are fresh.
 */
export function signedHeaders(
  box: SecretBox,
  sealedSecret: string,
  msg: { id: string; payload: string; at: Date },
): Record<string, string> {
  const hook = new Webhook(box.open(sealedSecret, SECRET_CONTEXT));
  return {
    'content-type': 'application/json',
    'user-agent': 'Latchkey-Webhooks/1',
    'webhook-id': msg.id,
    'webhook-timestamp': String(Math.floor(msg.at.getTime() / 1000)),
    'webhook-signature': hook.sign(msg.id, msg.at, msg.payload),
  };
}

/** The message id of an event's deliveries. */
export function messageId(eventId: string): string {
  return `msg_${eventId}`;
}
